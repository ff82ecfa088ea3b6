-- cpyref in Neovim (0.7 or later): add this to init.lua. `cpyref-lsp` must be on PATH
-- (npm install -g cpyref). It runs beside clangd or any other C server.
local cpyref_clients = {}
vim.api.nvim_create_autocmd('FileType', {
  pattern = { 'c', 'cpp' },
  callback = function(args)
    local dir = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(args.buf), ':p:h')
    local pyproject = vim.fn.findfile('pyproject.toml', dir .. ';')
    local config = {
      name = 'cpyref',
      cmd = { 'cpyref-lsp', '--stdio' },
      root_dir = pyproject ~= '' and vim.fn.fnamemodify(pyproject, ':p:h') or dir,
      -- The VS Code extension's settings, over [tool.cpyref] of the nearest pyproject.toml:
      -- e.g. rules = { ['owned-reference-leak'] = 'warning' }, run = 'onSave'.
      settings = { cpyref = {} },
    }
    if vim.lsp.start then
      -- Neovim 0.8 and later: one client per root, reused by every buffer under it.
      vim.lsp.start(config, { bufnr = args.buf })
    else
      -- Neovim 0.7.
      local id = cpyref_clients[config.root_dir]
      if not id or not vim.lsp.get_client_by_id(id) then
        id = vim.lsp.start_client(config)
        cpyref_clients[config.root_dir] = id
      end
      if id then vim.lsp.buf_attach_client(args.buf, id) end
    end
  end,
})
