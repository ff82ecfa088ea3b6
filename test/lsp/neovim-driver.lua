-- Run by test/lsp/neovim.test.ts inside `nvim --headless`, after the README's configuration
-- (docs/editors/neovim.lua) and the C file: waits for cpyref's diagnostic, applies the
-- preferred quick fix through Neovim's own code-action machinery, and writes what happened
-- (JSON) to $CPYREF_NVIM_RESULT. Neovim quits in any case.
local out = os.getenv('CPYREF_NVIM_RESULT')
local result = { nvim = tostring(vim.version().major) .. '.' .. vim.version().minor .. '.' .. vim.version().patch }

local function finish()
  local f = io.open(out, 'w')
  f:write(vim.fn.json_encode(result))
  f:close()
  vim.cmd('qa!')
end

local ok, err = pcall(function()
  local buf = vim.api.nvim_get_current_buf()
  result.filetype = vim.bo[buf].filetype
  local function ours()
    for _, d in ipairs(vim.diagnostic.get(buf)) do
      if d.source == 'cpyref' and d.code == 'borrowed-singleton-return' then return d end
    end
  end
  if not vim.wait(30000, function() return ours() ~= nil end, 50) then error('no cpyref diagnostic within 30 s') end
  local d = ours()
  result.diagnostic = { lnum = d.lnum, col = d.col, message = d.message, severity = d.severity }
  result.clients = {}
  for _, c in pairs(vim.lsp.get_active_clients()) do table.insert(result.clients, c.name) end

  -- The cursor on the finding, then Neovim's code-action request and apply.
  vim.api.nvim_win_set_cursor(0, { d.lnum + 1, d.col })
  result.offered = {}
  if vim.fn.has('nvim-0.8') == 1 then
    vim.lsp.buf.code_action({
      filter = function(a)
        table.insert(result.offered, a.title)
        return a.isPreferred == true
      end,
      apply = true,
    })
  else
    -- Neovim 0.7's code_action() asks through vim.ui.select: the user picks the preferred fix.
    vim.ui.select = function(items, _, on_choice)
      for i, item in ipairs(items) do
        table.insert(result.offered, item[2].title)
      end
      for i, item in ipairs(items) do
        if item[2].isPreferred then return on_choice(item, i) end
      end
      on_choice(nil, nil)
    end
    vim.lsp.buf.code_action()
  end
  local line = d.lnum
  if not vim.wait(30000, function() return vim.api.nvim_buf_get_lines(buf, line, line + 1, false)[1]:find('Py_RETURN_NONE', 1, true) ~= nil end, 50) then
    error('the quick fix was not applied')
  end
  result.line = vim.api.nvim_buf_get_lines(buf, line, line + 1, false)[1]
  -- The server analyses the fixed text: the finding goes.
  result.cleared = vim.wait(30000, function() return ours() == nil end, 50)
  for _, c in pairs(vim.lsp.get_active_clients()) do c.stop() end
  vim.wait(5000, function() return #vim.lsp.get_active_clients() == 0 end, 50)
end)
if not ok then result.error = tostring(err) end
finish()
