-- A module required by bob-linux-full.lua from its own directory.
return { greeting = "hello from a module" }
