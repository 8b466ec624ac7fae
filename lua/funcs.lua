--
-- Helper functions available to every configuration file.  They run before
-- the configuration itself and behave as the helpers of bob do.
--

-- The first word of a line: leading blanks skipped, stops at a blank or '#'.
local function first_word(line)
    return line:match("^%s*([^#%s]+)")
end

--
-- read_pkgpaths(file): the package paths listed in file, one per line.
-- Blank lines and comments (whole-line or after the path) are skipped, and
-- so is anything that is not of the form "category/package".  A missing
-- file is an error.
--
function read_pkgpaths(file)
    local paths = {}
    for line in io.lines(file) do
        local word = first_word(line)
        if word and word:match("^[^/]+/[^/]+$") then
            paths[#paths + 1] = word
        end
    end
    return paths
end

--
-- read_pkglist(file): like read_pkgpaths, but keeps every first word
-- (package names or patterns) without checking its form.
--
function read_pkglist(file)
    local list = {}
    for line in io.lines(file) do
        local word = first_word(line)
        if word then
            list[#list + 1] = word
        end
    end
    return list
end

--
-- scriptenv(run, env): a script value with its own environment, for use as
-- the result of a function given as `create` or `destroy`.
--
function scriptenv(run, env)
    return { run = run, env = env or {} }
end

--
-- dedent(s): removes the indentation common to the lines of s, so that a
-- long string can be indented with the code around it.  One leading newline
-- is dropped; the common indentation is the smallest run of leading spaces
-- and tabs over the lines that have something else on them; exactly that
-- many characters are cut from every line (shorter lines become empty);
-- trailing whitespace is dropped.
--
function dedent(s)
    if s:sub(1, 1) == "\n" then
        s = s:sub(2)
    end
    local lines = {}
    local pos = 1
    while true do
        local nl = s:find("\n", pos, true)
        if not nl then
            lines[#lines + 1] = s:sub(pos)
            break
        end
        lines[#lines + 1] = s:sub(pos, nl - 1)
        pos = nl + 1
    end
    local indent
    for _, line in ipairs(lines) do
        if line:find("%S") then
            local n = #line:match("^[ \t]*")
            if not indent or n < indent then
                indent = n
            end
        end
    end
    indent = indent or 0
    for i, line in ipairs(lines) do
        if #line >= indent then
            lines[i] = line:sub(indent + 1)
        else
            lines[i] = ""
        end
    end
    local out = table.concat(lines, "\n")
    local last = #out
    while last > 0 and out:sub(last, last):match("%s") do
        last = last - 1
    end
    return out:sub(1, last)
end
