# The driver of the progress display for terminal tests: a scripted fake
# build on a real loop (tests/e2e/t_progress_tty.sh runs it inside tmux).
# Included from tests/CMakeLists.txt; it lands in <build>/tests/progress_demo.
add_executable(progress_demo ${CMAKE_CURRENT_LIST_DIR}/progress_demo.c)
target_link_libraries(progress_demo PRIVATE bob_display)
set_target_properties(progress_demo PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
