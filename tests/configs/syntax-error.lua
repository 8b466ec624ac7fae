options = {
    build_threads = 4
    scan_threads = 2
}
