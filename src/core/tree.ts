/**
 * Syntax trees read into plain JavaScript objects, on demand.
 *
 * web-tree-sitter's `Node` is a handle: each `type`, `childForFieldName`, `children` or
 * `parent` is a call into WebAssembly that copies the node through a transfer buffer and
 * makes new `Node` objects. The analyses read the same nodes many times (every path state
 * re-reads a statement), and that copying was a third of a scan's time. Here a node's
 * children are read from the parser once, with one tree cursor, the first time they are
 * asked for; the node objects then answer from their own fields. Nodes nobody asks for are
 * never read. A node can let go of what was read under it (`forgetChildren`: the analysis
 * does so for a function's body once the function is analysed); asked again, its children
 * are read again, as new nodes.
 *
 * The objects give the subset of web-tree-sitter's `Node` interface the analyses use, with
 * the same results (`test/core/tree.test.ts` compares the two on every fixture file).
 */
import type TS = require('web-tree-sitter');
import { emptyForObjects } from './arrays';

/** The web-tree-sitter binding's exports this module calls (its emscripten module object). */
export interface Binding {
  HEAP32: Int32Array;
  _ts_init(): number;
  _ts_tree_root_node_wasm(tree: number): void;
  _ts_tree_cursor_new_wasm(tree: number): void;
  _ts_tree_cursor_reset_wasm(tree: number): void;
  _ts_tree_cursor_goto_first_child_wasm(tree: number): number;
  _ts_tree_cursor_goto_next_sibling_wasm(tree: number): number;
  _ts_tree_cursor_current_node_type_id_wasm(tree: number): number;
  _ts_tree_cursor_start_index_wasm(tree: number): number;
  _ts_tree_cursor_end_index_wasm(tree: number): number;
  _ts_tree_cursor_current_field_id_wasm(tree: number): number;
  _ts_tree_cursor_current_node_wasm(tree: number): void;
  _ts_node_has_error_wasm(tree: number): number;
  _ts_node_is_missing_wasm(tree: number): number;
  _ts_node_symbol_wasm(tree: number): number;
  _ts_node_descendants_of_type_wasm(tree: number, symbols: number, count: number, startRow: number, startColumn: number, endRow: number, endColumn: number): void;
  _malloc(bytes: number): number;
  _free(address: number): void;
}

const REQUIRED: ReadonlyArray<keyof Binding> = [
  '_ts_init',
  '_ts_tree_root_node_wasm',
  '_ts_tree_cursor_new_wasm',
  '_ts_tree_cursor_reset_wasm',
  '_ts_tree_cursor_goto_first_child_wasm',
  '_ts_tree_cursor_goto_next_sibling_wasm',
  '_ts_tree_cursor_current_node_type_id_wasm',
  '_ts_tree_cursor_start_index_wasm',
  '_ts_tree_cursor_end_index_wasm',
  '_ts_tree_cursor_current_field_id_wasm',
  '_ts_tree_cursor_current_node_wasm',
  '_ts_node_has_error_wasm',
  '_ts_node_is_missing_wasm',
  '_ts_node_symbol_wasm',
  '_ts_node_descendants_of_type_wasm',
  '_malloc',
  '_free',
];

/** The binding and its transfer buffer (as an index into `HEAP32`), set once per process or worker. */
let binding: Binding | undefined;
let buffer = 0;
/** The one tree cursor (its four words), reset to a node whenever children are read; created at first use. */
let cursor: Int32Array | undefined;

/** Takes the binding object web-tree-sitter was initialised with; throws when it lacks an export this module needs. */
export function useBinding(b: Partial<Binding>): void {
  if (binding) return;
  const missing = REQUIRED.filter((k) => typeof b[k] !== 'function');
  if (missing.length || !(b.HEAP32 instanceof Int32Array)) {
    throw new Error(`web-tree-sitter's binding lacks ${missing.join(', ') || 'HEAP32'} (another version than the one cpyref was built with?)`);
  }
  binding = b as Binding;
  buffer = binding._ts_init() >> 2;
}

/** What a language's ids mean, worked out once per language. */
interface LanguageTables {
  types: string[];
  named: boolean[];
  fields: Map<string, number>;
  /** By a list of type names: their symbols, sorted, in the parser's memory (kept for the process), and how many. */
  symbols: Map<string, { address: number; count: number }>;
}
const TABLES = new WeakMap<TS.Language, LanguageTables>();

function tablesOf(language: TS.Language): LanguageTables {
  let t = TABLES.get(language);
  if (!t) {
    const types: string[] = [];
    const named: boolean[] = [];
    for (let i = 0; i < language.types.length; i++) {
      types.push(language.types[i] || 'ERROR');
      named.push(language.nodeTypeIsNamed(i));
    }
    const fields = new Map<string, number>();
    language.fields.forEach((name, id) => {
      if (name && !fields.has(name)) fields.set(name, id);
    });
    t = { types, named, fields, symbols: new Map() };
    TABLES.set(language, t);
  }
  return t;
}

/**
 * The types the analyses search function bodies for, found together (see `descendantsOfType`): a search walks the
 * whole node whatever it looks for, so one search for all of them costs what one for a single type did.
 */
const INDEXED_TYPES: readonly string[] = [
  'assignment_expression',
  'call_expression',
  'comma_expression',
  'condition_clause',
  'declaration',
  'init_declarator',
  'lambda_expression',
  'pointer_expression',
  'return_statement',
  'trailing_return_type',
  'update_expression',
];

/** The error symbol (65535): named, spelled `ERROR`. */
const ERROR_ID = 0xffff;

/** A parsed tree: web-tree-sitter's, with its nodes read into `SyntaxNode`s on demand. Call `delete()` when done. */
export class SyntaxTree {
  private root: SyntaxNode | undefined;
  /** @internal */
  readonly tables: LanguageTables;
  /**
   * @internal Per node read (by its slot): its identity in the parser's memory (web-tree-sitter's marshalled node:
   * id, row, column, alias) and whether it has an error (0 not asked yet, 1 no, 2 yes). Kept here, not in the nodes,
   * so that a node is small.
   */
  idents = new Int32Array(5 * 64);
  /** @internal Slots used. */
  slots = 0;
  /** @internal Added to a node's slot for its process-wide `id`. */
  readonly idBase = nextTreeBase();
  /**
   * @internal By a node's slot: its descendants of the `INDEXED_TYPES`, found in one search the first time any
   * of them was asked for (identity, start and symbol of each, in document order).
   */
  typeIndexes = new Map<number, Int32Array>();
  /** @internal Set by `delete()`: what was read stays readable, nothing more can be read. */
  deleted = false;

  constructor(
    /** web-tree-sitter's tree (for incremental parsing and deletion). */
    readonly raw: TS.Tree,
    /** The text that was parsed (nodes' `text` is sliced from it). */
    readonly source: string,
  ) {
    this.tables = tablesOf(raw.language);
  }

  get language(): TS.Language {
    return this.raw.language;
  }

  /** @internal The tree's address in the parser's memory. */
  get address(): number {
    return (this.raw as unknown as { 0: number })[0];
  }

  get rootNode(): SyntaxNode {
    if (!this.root) {
      const b = binding!;
      b._ts_tree_root_node_wasm(this.address);
      const h = b.HEAP32;
      const slot = this.slot(h[buffer], h[buffer + 2], h[buffer + 3], h[buffer + 4]);
      const start = h[buffer + 1];
      // (The root's type and extent, read through the cursor put on it.)
      ensureCursor(this.address);
      resetCursor(this, slot, start);
      const type = b._ts_tree_cursor_current_node_type_id_wasm(this.address);
      const end = b._ts_tree_cursor_end_index_wasm(this.address);
      saveCursor();
      this.root = new SyntaxNode(this, null, slot, type, start, end);
    }
    return this.root;
  }

  /** @internal Keeps a node's identity; gives its slot. */
  slot(nid: number, row: number, col: number, other: number): number {
    const k = this.slots++;
    if (5 * this.slots > this.idents.length) {
      const grown = new Int32Array(this.idents.length * 2);
      grown.set(this.idents);
      this.idents = grown;
    }
    const i = 5 * k;
    this.idents[i] = nid;
    this.idents[i + 1] = row;
    this.idents[i + 2] = col;
    this.idents[i + 3] = other;
    return k;
  }

  /** Tells the tree about an edit of its text (before an incremental parse); its nodes read so far are stale. */
  edit(e: TS.Edit): void {
    this.raw.edit(e);
    this.root = undefined;
    this.typeIndexes.clear();
  }

  /** web-tree-sitter's cursor over the whole tree. */
  walk(): TS.TreeCursor {
    return this.raw.walk();
  }

  delete(): void {
    this.raw.delete();
    this.root = undefined;
    this.deleted = true;
  }
}

function ensureCursor(tree: number): void {
  if (cursor) return;
  // (`ts_tree_cursor_new_wasm` starts the cursor at the node in the transfer buffer: the root just written there.)
  binding!._ts_tree_cursor_new_wasm(tree);
  saveCursor();
}

function saveCursor(): void {
  const h = binding!.HEAP32;
  // (Copied into one array for the process, not a new one each time children are read.)
  cursor ??= new Int32Array(4);
  cursor[0] = h[buffer];
  cursor[1] = h[buffer + 1];
  cursor[2] = h[buffer + 2];
  cursor[3] = h[buffer + 3];
}

/** Writes a node of a tree (by its slot) into the transfer buffer's first five words, as web-tree-sitter marshals a node. */
function writeNode(tree: SyntaxTree, slot: number, start: number): void {
  const h = binding!.HEAP32;
  const ids = tree.idents;
  const i = 5 * slot;
  h[buffer] = ids[i];
  h[buffer + 1] = start;
  h[buffer + 2] = ids[i + 1];
  h[buffer + 3] = ids[i + 2];
  h[buffer + 4] = ids[i + 3];
}

/** Moves the cursor to a node (web-tree-sitter's `TreeCursor.reset`): the node in the buffer's first five words, the cursor after them. */
function resetCursor(tree: SyntaxTree, slot: number, start: number): void {
  writeNode(tree, slot, start);
  const h = binding!.HEAP32;
  h[buffer + 5] = cursor![0];
  h[buffer + 6] = cursor![1];
  h[buffer + 7] = cursor![2];
  h[buffer + 8] = cursor![3];
  binding!._ts_tree_cursor_reset_wasm(tree.address);
}

/** Node ids: a tree's nodes take its base plus their slot (a tree never reads 2^26 nodes: a 2 MB file has about half a million). */
let treeBases = 0;
function nextTreeBase(): number {
  return ++treeBases * 2 ** 26;
}

const NO_NODES: readonly SyntaxNode[] = Object.freeze([]) as readonly SyntaxNode[];
/**
 * The children of every leaf (read-only, as every node's children are: they are shared). Of the kind of a list of
 * nodes, not a literal `[]`'s: the loops over children then meet one hidden class (see `arrays.ts`).
 */
const NO_KIDS: SyntaxNode[] = emptyForObjects();

/** A node of a `SyntaxTree`: web-tree-sitter's `Node` interface (the part the analyses use), answered from fields. */
export class SyntaxNode {
  private kids: SyntaxNode[] | undefined;
  private named: SyntaxNode[] | undefined;
  private code: readonly SyntaxNode[] | undefined;

  /** @internal */
  constructor(
    readonly tree: SyntaxTree,
    readonly parent: SyntaxNode | null,
    /** Where the tree keeps the node's identity in the parser's memory (see `SyntaxTree.idents`). */
    private readonly slot: number,
    /** The node's type id, and (from bit 16 on) the field it fills in its parent (0: none). */
    private readonly kind: number,
    readonly startIndex: number,
    readonly endIndex: number,
  ) {}

  /** A number no other node of the process has (a key for caches). */
  get id(): number {
    return this.tree.idBase + this.slot;
  }

  get typeId(): number {
    return this.kind & 0xffff;
  }

  private get fieldId(): number {
    return this.kind >>> 16;
  }

  private get nid(): number {
    return this.tree.idents[5 * this.slot];
  }

  private get row(): number {
    return this.tree.idents[5 * this.slot + 1];
  }

  private get col(): number {
    return this.tree.idents[5 * this.slot + 2];
  }

  /**
   * Position among the parent's children. (A node read before its parent forgot its children is not among those read
   * again: its place is found by its extent and type.)
   */
  private get index(): number {
    if (!this.parent) return 0;
    const k = this.parent.children;
    const i = k.indexOf(this);
    return i >= 0 ? i : k.findIndex((n) => n.startIndex === this.startIndex && n.endIndex === this.endIndex && n.kind === this.kind);
  }

  get type(): string {
    return this.typeId === ERROR_ID ? 'ERROR' : (this.tree.tables.types[this.typeId] ?? 'ERROR');
  }

  get isNamed(): boolean {
    return this.typeId === ERROR_ID || this.tree.tables.named[this.typeId] === true;
  }

  get text(): string {
    return this.tree.source.slice(this.startIndex, this.endIndex);
  }

  get startPosition(): TS.Point {
    return { row: this.row, column: this.col };
  }

  /** Where the node ends (counted in its text: not for hot paths). */
  get endPosition(): TS.Point {
    const src = this.tree.source;
    let row = this.row;
    let lineStart = this.startIndex - this.col;
    for (let i = src.indexOf('\n', this.startIndex); i !== -1 && i < this.endIndex; i = src.indexOf('\n', i + 1)) {
      row++;
      lineStart = i + 1;
    }
    return { row, column: this.endIndex - lineStart };
  }

  get children(): SyntaxNode[] {
    return this.kids ?? this.read();
  }

  /** (Shared, as `children` is: the same array when every child is named.) */
  get namedChildren(): SyntaxNode[] {
    if (!this.named) {
      const kids = this.children;
      this.named = kids.every((k) => k.isNamed) ? kids : kids.filter((k) => k.isNamed);
    }
    return this.named;
  }

  /** The named children but comments (read-only: it is shared, and the same array as `namedChildren` when no comment is among them). */
  get codeChildren(): readonly SyntaxNode[] {
    if (!this.code) {
      const named = this.namedChildren;
      this.code = named.some((k) => k.type === 'comment') ? named.filter((k) => k.type !== 'comment') : named;
    }
    return this.code;
  }

  /** Whether the node's children were read (and not forgotten since). */
  get childrenRead(): boolean {
    return this.kids !== undefined;
  }

  /**
   * Lets go of the nodes read under this one (asked again, they are read again, as new nodes): a function's body, once
   * its analysis is done, so that its nodes die young instead of living, and being copied, until the file is done.
   */
  forgetChildren(): void {
    this.kids = undefined;
    this.named = undefined;
    this.code = undefined;
  }

  get childCount(): number {
    return this.children.length;
  }

  get namedChildCount(): number {
    return this.namedChildren.length;
  }

  child(i: number): SyntaxNode | null {
    return this.children[i] ?? null;
  }

  namedChild(i: number): SyntaxNode | null {
    return this.namedChildren[i] ?? null;
  }

  get firstChild(): SyntaxNode | null {
    return this.children[0] ?? null;
  }

  get lastChild(): SyntaxNode | null {
    const k = this.children;
    return k[k.length - 1] ?? null;
  }

  get nextSibling(): SyntaxNode | null {
    return this.parent?.children[this.index + 1] ?? null;
  }

  get previousSibling(): SyntaxNode | null {
    return this.parent?.children[this.index - 1] ?? null;
  }

  get nextNamedSibling(): SyntaxNode | null {
    const k = this.parent?.children ?? NO_NODES;
    for (let i = this.index + 1; i < k.length; i++) if (k[i].isNamed) return k[i];
    return null;
  }

  get previousNamedSibling(): SyntaxNode | null {
    const k = this.parent?.children ?? NO_NODES;
    for (let i = this.index - 1; i >= 0; i--) if (k[i].isNamed) return k[i];
    return null;
  }

  /**
   * The first child that fills the field (web-tree-sitter's `childForFieldName`, but a child only: web-tree-sitter
   * also gives a grandchild for a field an aliased child inherits, as a K&R definition's `parameters`).
   */
  childForFieldName(name: string): SyntaxNode | null {
    const id = this.tree.tables.fields.get(name);
    // (An ERROR node has no production, so no fields: its children keep the fields of the hidden rules they came from.)
    if (id === undefined || this.typeId === ERROR_ID) return null;
    for (const k of this.children) if (k.fieldId === id) return k;
    return null;
  }

  get hasError(): boolean {
    const at = 5 * this.slot + 4;
    if (this.tree.idents[at] === 0) {
      if (this.tree.deleted) throw new Error(`tree: hasError of a ${this.type} at ${this.startIndex} was asked for after its tree was deleted`);
      writeNode(this.tree, this.slot, this.startIndex);
      this.tree.idents[at] = binding!._ts_node_has_error_wasm(this.tree.address) === 1 ? 2 : 1;
    }
    return this.tree.idents[at] === 2;
  }

  get isMissing(): boolean {
    if (this.tree.deleted) throw new Error(`tree: isMissing of a ${this.type} at ${this.startIndex} was asked for after its tree was deleted`);
    writeNode(this.tree, this.slot, this.startIndex);
    return binding!._ts_node_is_missing_wasm(this.tree.address) === 1;
  }

  /**
   * The node and its descendants of the given types, in document order (web-tree-sitter's `descendantsOfType` over
   * the whole node). The parser finds them; only the nodes on the paths down to them are read.
   */
  descendantsOfType(types: string | readonly string[]): SyntaxNode[] {
    if (this.tree.deleted) throw new Error(`tree: descendants of a ${this.type} at ${this.startIndex} were asked for after its tree was deleted`);
    const list = typeof types === 'string' ? [types] : types;
    if (!list.every((t) => INDEXED_TYPES.includes(t))) return this.search(list).map(([nid, start]) => this.found(nid, start, list));
    // The analyses ask one node (a function's body) for several types in turn: one search finds them all.
    let index = this.tree.typeIndexes.get(this.slot);
    if (!index) {
      const found = this.search(INDEXED_TYPES);
      index = new Int32Array(3 * found.length);
      const b = binding!;
      const h = b.HEAP32;
      found.forEach(([nid, start, row, col, other], i) => {
        h[buffer] = nid;
        h[buffer + 1] = start;
        h[buffer + 2] = row;
        h[buffer + 3] = col;
        h[buffer + 4] = other;
        index![3 * i] = nid;
        index![3 * i + 1] = start;
        index![3 * i + 2] = b._ts_node_symbol_wasm(this.tree.address);
      });
      this.tree.typeIndexes.set(this.slot, index);
    }
    const names = this.tree.tables.types;
    const out: SyntaxNode[] = [];
    for (let i = 0; i < index.length; i += 3) if (list.includes(names[index[i + 2]])) out.push(this.found(index[i], index[i + 1], list));
    return out;
  }

  /** The parser's search for descendants (and the node itself) of some types: each one's marshalled identity (id, start, row, column, other). */
  private search(types: readonly string[]): Array<[number, number, number, number, number]> {
    const b = binding!;
    const symbols = this.symbolsOf(types);
    if (!symbols.count) return [];
    writeNode(this.tree, this.slot, this.startIndex);
    b._ts_node_descendants_of_type_wasm(this.tree.address, symbols.address, symbols.count, 0, 0, 0, 0);
    const h = b.HEAP32;
    const count = h[buffer];
    const address = h[buffer + 1];
    const found: Array<[number, number, number, number, number]> = [];
    for (let i = 0, at = address >> 2; i < count; i++, at += 5) found.push([h[at], h[at + 1], h[at + 2], h[at + 3], h[at + 4]]);
    b._free(address);
    return found;
  }

  private found(nid: number, start: number, types: readonly string[]): SyntaxNode {
    const n = this.find(nid, start);
    if (!n) throw new Error(`tree: a ${types.join('/')} the parser found at ${start} is not under the node`);
    return n;
  }

  /** The symbols of some types, sorted (the parser's search stops at the first greater one), in the parser's memory. */
  private symbolsOf(types: readonly string[]): { address: number; count: number } {
    const tables = this.tree.tables;
    const key = types.join('\u0000');
    let s = tables.symbols.get(key);
    if (!s) {
      const ids: number[] = [];
      tables.types.forEach((name, id) => {
        if (types.includes(name) && this.tree.language.types[id]) ids.push(id);
      });
      if (types.includes('ERROR')) ids.push(ERROR_ID);
      const address = ids.length ? binding!._malloc(4 * ids.length) : 0;
      const h = binding!.HEAP32;
      ids.forEach((id, i) => (h[(address >> 2) + i] = id));
      s = { address, count: ids.length };
      tables.symbols.set(key, s);
    }
    return s;
  }

  /** The node under this one (or this one) with an identity, reading only the children of the nodes whose extent holds its start. */
  private find(nid: number, start: number): SyntaxNode | undefined {
    const stack: SyntaxNode[] = [this];
    while (stack.length) {
      const n = stack.pop()!;
      if (n.nid === nid && n.startIndex === start) return n;
      const k = n.children;
      for (let i = k.length - 1; i >= 0; i--) if (k[i].startIndex <= start && start <= k[i].endIndex) stack.push(k[i]);
    }
    return undefined;
  }

  /** The smallest node here that spans `start`..`end` (web-tree-sitter's `descendantForIndex`). */
  descendantForIndex(start: number, end: number = start): SyntaxNode | null {
    if (start > end) return null;
    let node: SyntaxNode = this;
    for (;;) {
      let next: SyntaxNode | undefined;
      for (const k of node.children) {
        if (k.endIndex < end) continue;
        if (k.startIndex === k.endIndex ? k.endIndex < start : k.endIndex <= start) continue;
        if (start < k.startIndex) break;
        next = k;
        break;
      }
      if (!next) break;
      node = next;
    }
    // An empty node (a MISSING token) may lie in a node the grammar hides that ends where it does, which the parser's
    // own search skips: there (rarely) the parser is asked, and its answer found among these nodes.
    if (node !== this && node.startIndex === node.endIndex) {
      if (this.tree.deleted) throw new Error('tree: descendantForIndex was asked for after its tree was deleted');
      const raw = this.tree.raw.rootNode.descendantForIndex(start, end);
      if (raw && this.startIndex <= raw.startIndex && raw.endIndex <= this.endIndex && (raw.startIndex !== node.startIndex || raw.endIndex !== node.endIndex || raw.type !== node.type)) {
        return this.deepest(raw.startIndex, raw.endIndex, raw.type) ?? node;
      }
    }
    return node;
  }

  /** The deepest node here (this one included) with that span and type. */
  private deepest(start: number, end: number, type: string): SyntaxNode | undefined {
    let found: SyntaxNode | undefined;
    for (let n: SyntaxNode | undefined = this; n; ) {
      if (n.startIndex === start && n.endIndex === end && n.type === type) found = n;
      n = n.children.find((k) => k.startIndex <= start && end <= k.endIndex && !(k.startIndex === k.endIndex && start !== end));
    }
    return found;
  }

  toString(): string {
    return `(${this.type} ${this.startIndex}-${this.endIndex})`;
  }

  /** Reads the node's children out of the parser, once. */
  private read(): SyntaxNode[] {
    if (this.tree.deleted) throw new Error(`tree: the children of a ${this.type} at ${this.startIndex} were asked for after its tree was deleted`);
    const b = binding!;
    const tree = this.tree.address;
    const out: SyntaxNode[] = [];
    resetCursor(this.tree, this.slot, this.startIndex);
    if (b._ts_tree_cursor_goto_first_child_wasm(tree)) {
      const at = buffer;
      do {
        const type = b._ts_tree_cursor_current_node_type_id_wasm(tree);
        const start = b._ts_tree_cursor_start_index_wasm(tree);
        const end = b._ts_tree_cursor_end_index_wasm(tree);
        const field = b._ts_tree_cursor_current_field_id_wasm(tree);
        // The node's identity overwrites the cursor in the buffer: keep the cursor's words and put them back.
        let h = b.HEAP32;
        const c0 = h[at];
        const c1 = h[at + 1];
        const c2 = h[at + 2];
        const c3 = h[at + 3];
        b._ts_tree_cursor_current_node_wasm(tree);
        h = b.HEAP32;
        out.push(new SyntaxNode(this.tree, this, this.tree.slot(h[at], h[at + 2], h[at + 3], h[at + 4]), type | (field << 16), start, end));
        h[at] = c0;
        h[at + 1] = c1;
        h[at + 2] = c2;
        h[at + 3] = c3;
      } while (b._ts_tree_cursor_goto_next_sibling_wasm(tree));
    }
    saveCursor();
    // (A leaf's empty list is shared; not a frozen one, which the loops over children would have to handle apart.)
    this.kids = out.length ? out : NO_KIDS;
    return this.kids;
  }
}
