-- build-lsp in a real editor: tests/lsp/test_server.py runs this in a headless Neovim
-- (`nvim --headless -u NONE -i NONE -c 'luafile nvim_definition.lua'`). It opens a BUILD file,
-- starts build-support/build-lsp as its language server the way an init.lua would, waits until
-- the server is ready, asks for the definition of the string under the cursor through Neovim's
-- own handler (which moves the cursor), and writes where the editor ended up as JSON.
--
-- Environment (all required but the timeout):
--   KEEL_NVIM_SERVER  the server command (build-support/build-lsp)
--   KEEL_NVIM_ROOT    the workspace;  KEEL_NVIM_FILE  the BUILD file in it to open
--   KEEL_NVIM_NEEDLE  the text whose first occurrence the cursor goes to (one character in)
--   KEEL_NVIM_RESULT  where to write the outcome
--   KEEL_NVIM_TIMEOUT_MS  how long each wait may take (default 30000)

local function env(name)
  return assert(os.getenv(name), name .. " is not set")
end

local root, file, needle = env("KEEL_NVIM_ROOT"), env("KEEL_NVIM_FILE"), env("KEEL_NVIM_NEEDLE")
local timeout = tonumber(os.getenv("KEEL_NVIM_TIMEOUT_MS") or "30000")
local outcome = { nvim = tostring(vim.version().major) .. "." .. vim.version().minor .. "." .. vim.version().patch, messages = {} }

local initialized = false -- on_init: the server answered `initialize`

local function finish(ok, why)
  outcome.ok, outcome.why = ok, why
  local out = assert(io.open(env("KEEL_NVIM_RESULT"), "w"))
  out:write(vim.fn.json_encode(outcome))
  out:close()
  vim.cmd(ok and "qall!" or "cquit! 1")
end

-- Neovim 0.8 and later: vim.lsp.start (as README's init.lua). 0.7 (Debian 12) has only
-- start_client and buf_attach_client, which do the same for one buffer.
local function start_server()
  local config = {
    name = "keel-build-lsp",
    cmd = { env("KEEL_NVIM_SERVER") },
    root_dir = root,
    on_init = function()
      initialized = true
    end,
    handlers = {
      ["window/showMessage"] = function(_, params)
        table.insert(outcome.messages, params.message)
      end,
    },
  }
  if vim.lsp.start then
    return vim.lsp.start(config)
  end
  local id = vim.lsp.start_client(config)
  vim.lsp.buf_attach_client(0, id)
  return id
end

local function put_cursor_on_needle()
  for number, line in ipairs(vim.api.nvim_buf_get_lines(0, 0, -1, false)) do
    local column = line:find(needle, 1, true)
    if column then
      vim.api.nvim_win_set_cursor(0, { number, column }) -- 0-based: one past the needle's start
      return true
    end
  end
  return false
end

-- Ready: the server answers a hover on the needle, and not with "loading" (help-all or
-- rpm-graph still running), which is what an impatient user would see.
local function ready()
  local params = vim.lsp.util.make_position_params()
  local answers = vim.lsp.buf_request_sync(0, "textDocument/hover", params, 5000) or {}
  for _, answer in pairs(answers) do
    local contents = answer.result and answer.result.contents
    if contents and not tostring(contents.value or ""):find("loading", 1, true) then
      return true
    end
  end
  return false
end

local function wait_until(condition)
  local deadline = vim.loop.hrtime() + timeout * 1e6
  while vim.loop.hrtime() < deadline do
    if condition() then
      return true
    end
    vim.wait(100)
  end
  return false
end

-- The window the definition opened a file in (the quickfix window a second location opens is
-- not one: it lists the locations).
local function landed()
  for _, window in ipairs(vim.api.nvim_list_wins()) do
    local buffer = vim.api.nvim_win_get_buf(window)
    local name = vim.api.nvim_buf_get_name(buffer)
    if vim.bo[buffer].buftype == "" and name ~= root .. "/" .. file then
      return name, vim.api.nvim_win_get_cursor(window)
    end
  end
end

local function run()
  vim.cmd("edit " .. vim.fn.fnameescape(root .. "/" .. file))
  start_server()
  if not wait_until(function() return initialized end) then
    return finish(false, "the server did not initialize")
  end
  if not put_cursor_on_needle() then
    return finish(false, needle .. " is not in " .. file)
  end
  if not wait_until(ready) then
    return finish(false, "the server did not become ready")
  end
  vim.lsp.buf.definition()
  if not wait_until(function() return landed() ~= nil end) then
    return finish(false, "the definition moved no window")
  end
  local name, cursor = landed()
  outcome.file = name:sub(#root + 2)
  outcome.line = cursor[1] - 1
  outcome.locations = {}
  for _, item in ipairs(vim.fn.getqflist()) do
    table.insert(outcome.locations, vim.api.nvim_buf_get_name(item.bufnr):sub(#root + 2))
  end
  finish(true, nil)
end

local ok, err = pcall(run)
if not ok then
  finish(false, tostring(err))
end
