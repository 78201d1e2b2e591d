/**
 * Parser for Go's text/template, written by hand after text/template/parse/parse.go (no usable npm package exists).
 * Checks at parse time what Go checks: unknown functions, undefined variables, break/continue outside range,
 * misplaced else/end, non-executable pipeline stages. Messages use Go's wording.
 */
import { didYouMean } from '../util/suggest.ts';
import type {
  ArgNode,
  CommandNode,
  ControlNode,
  ListNode,
  Node,
  NumberNode,
  PipeNode,
  StringNode,
  TemplateNode,
} from './ast.ts';
import { nodeString } from './ast.ts';
import { lineCol, TemplateError } from './errors.ts';
import { lex, type Token } from './lexer.ts';
import { unquote } from './quote.ts';

export interface ParsedTree {
  root: ListNode;
  /** Templates declared with define/block, by name. */
  defines: Map<string, ListNode>;
  /** Function names the tree calls: a cached tree is reused only when all of them are still defined. */
  funcsUsed: Set<string>;
}

export interface ParseContext {
  name: string;
  leftDelim: string;
  rightDelim: string;
  hasFunction(name: string): boolean;
  functionNames(): Iterable<string>;
}

interface Marker {
  type: 'end' | 'else';
  pos: number;
}

const OPERAND_START = new Set([
  'bool',
  'charConstant',
  'dot',
  'field',
  'identifier',
  'number',
  'nil',
  'rawString',
  'string',
  'variable',
  'leftParen',
]);

function tokenString(t: Token): string {
  if (t.type === 'eof') return 'EOF';
  if (t.type === 'error') return t.val;
  if (t.type === 'keyword' || t.type === 'nil' || t.type === 'dot') return `<${t.val}>`;
  const chars = [...t.val];
  if (chars.length > 10) return `${JSON.stringify(chars.slice(0, 10).join(''))}...`;
  return JSON.stringify(t.val);
}

export function parseTree(text: string, ctx: ParseContext): ParsedTree {
  try {
    return new Parser(text, ctx).parse();
  } catch (error) {
    // Thousands of nested parentheses overflow the JS stack; Go reports such input as a syntax error too.
    if (error instanceof RangeError) {
      throw new TemplateError(`template: ${ctx.name}:1: nesting too deep`, {
        templateName: ctx.name,
        line: 1,
        col: 1,
        cause: error,
      });
    }
    throw error;
  }
}

class Parser {
  private readonly tokens: Token[];
  private i = 0;
  private vars: string[] = ['$'];
  private rangeDepth = 0;
  private readonly defines = new Map<string, ListNode>();
  private readonly funcsUsed = new Set<string>();

  constructor(
    private readonly text: string,
    private readonly ctx: ParseContext,
  ) {
    this.tokens = lex(text, ctx.leftDelim, ctx.rightDelim);
  }

  parse(): ParsedTree {
    const root: ListNode = { pos: 0, nodes: [] };
    while (this.peek().type !== 'eof') {
      if (this.peek().type === 'leftDelim') {
        const save = this.i;
        this.next();
        const t = this.nextNonSpace();
        if (t.type === 'keyword' && t.val === 'define') {
          this.parseDefinition();
          continue;
        }
        this.i = save;
      }
      const n = this.textOrAction();
      if (isMarker(n)) this.errorf(`unexpected {{${n.type}}}`);
      root.nodes.push(n);
    }
    return { root, defines: this.defines, funcsUsed: this.funcsUsed };
  }

  // ---- token cursor ----
  private next(): Token {
    const t = this.tokens[Math.min(this.i, this.tokens.length - 1)];
    if (t.type === 'error') this.errorf(t.val, t.pos);
    this.i++;
    return t;
  }
  private peek(): Token {
    const t = this.tokens[Math.min(this.i, this.tokens.length - 1)];
    if (t.type === 'error') this.errorf(t.val, t.pos);
    return t;
  }
  private backup(): void {
    this.i--;
  }
  private nextNonSpace(): Token {
    let t = this.next();
    while (t.type === 'space') t = this.next();
    return t;
  }
  private peekNonSpace(): Token {
    const t = this.nextNonSpace();
    this.backup();
    return t;
  }

  private errorf(message: string, pos?: number, hint?: string): never {
    const at = pos ?? this.tokens[Math.min(Math.max(0, this.i - 1), this.tokens.length - 1)].pos;
    const { line, goCol } = lineCol(this.text, at);
    throw new TemplateError(`template: ${this.ctx.name}:${line}: ${message}`, {
      templateName: this.ctx.name,
      line,
      col: goCol + 1,
      hint,
      source: this.text,
    });
  }
  private unexpected(t: Token, context: string): never {
    if (t.type === 'error') this.errorf(t.val, t.pos);
    this.errorf(`unexpected ${tokenString(t)} in ${context}`, t.pos);
  }
  private expect(type: Token['type'], context: string): Token {
    const t = this.nextNonSpace();
    if (t.type !== type) this.unexpected(t, context);
    return t;
  }

  // ---- structure ----
  private parseDefinition(): void {
    const context = 'define clause';
    const nameTok = this.nextNonSpace();
    const name = this.templateName(nameTok, context);
    this.expect('rightDelim', context);
    const list = this.withFreshScope(() => {
      const [body, end] = this.itemList();
      if (end.type !== 'end') this.errorf(`unexpected {{${end.type}}} in ${context}`, end.pos);
      return body;
    });
    this.addTemplate(name, list, nameTok.pos);
  }

  private withFreshScope<T>(fn: () => T): T {
    const savedVars = this.vars;
    const savedDepth = this.rangeDepth;
    this.vars = ['$'];
    this.rangeDepth = 0;
    try {
      return fn();
    } finally {
      this.vars = savedVars;
      this.rangeDepth = savedDepth;
    }
  }

  private addTemplate(name: string, list: ListNode, pos: number): void {
    const existing = this.defines.get(name);
    if (existing && !isEmptyList(existing) && !isEmptyList(list)) {
      this.errorf(`template: multiple definition of template ${JSON.stringify(name)}`, pos);
    }
    if (!existing || !isEmptyList(list)) this.defines.set(name, list);
  }

  private itemList(): [ListNode, Marker] {
    const list: ListNode = { pos: this.peekNonSpace().pos, nodes: [] };
    while (this.peekNonSpace().type !== 'eof') {
      const n = this.textOrAction();
      if (isMarker(n)) return [list, n];
      list.nodes.push(n);
    }
    this.errorf('unexpected EOF');
  }

  private textOrAction(): Node | Marker {
    const t = this.nextNonSpace();
    if (t.type === 'text') return { type: 'text', pos: t.pos, text: t.val };
    if (t.type === 'leftDelim') return this.action();
    this.unexpected(t, 'input');
  }

  private action(): Node | Marker {
    const t = this.nextNonSpace();
    if (t.type === 'keyword') {
      switch (t.val) {
        case 'block':
          return this.blockControl();
        case 'break':
        case 'continue':
          return this.loopControl(t);
        case 'else':
          return this.elseControl();
        case 'end':
          return { type: 'end', pos: this.expect('rightDelim', 'end').pos };
        case 'if':
        case 'range':
        case 'with':
          return this.control(t.val);
        case 'template':
          return this.templateControl();
      }
    }
    this.backup();
    const pos = this.peek().pos;
    return { type: 'action', pos, pipe: this.pipeline('command', 'rightDelim') };
  }

  private loopControl(t: Token): Node {
    const next = this.nextNonSpace();
    if (next.type !== 'rightDelim') this.unexpected(next, `{{${t.val}}}`);
    if (this.rangeDepth === 0) this.errorf(`{{${t.val}}} outside {{range}}`, t.pos);
    return { type: t.val as 'break' | 'continue', pos: t.pos };
  }

  private elseControl(): Marker {
    const peek = this.peekNonSpace();
    if (peek.type === 'keyword' && (peek.val === 'if' || peek.val === 'with')) return { type: 'else', pos: peek.pos };
    return { type: 'else', pos: this.expect('rightDelim', 'else').pos };
  }

  private control(context: 'if' | 'range' | 'with'): ControlNode {
    const varsLen = this.vars.length;
    const pipe = this.pipeline(context, 'rightDelim');
    if (context === 'range') this.rangeDepth++;
    const [list, next] = this.itemList();
    if (context === 'range') this.rangeDepth--;
    let elseList: ListNode | undefined;
    if (next.type === 'else') {
      const peek = this.peek();
      if (context !== 'range' && peek.type === 'keyword' && peek.val === context) {
        // "{{else if x}}" is "{{else}}{{if x}}...{{end}}{{end}}" with the inner end shared.
        this.next();
        elseList = { pos: next.pos, nodes: [this.control(context)] };
      } else {
        const [list2, end] = this.itemList();
        if (end.type !== 'end') this.errorf(`expected end; found {{${end.type}}}`, end.pos);
        elseList = list2;
      }
    }
    this.vars.length = varsLen;
    return { type: context, pos: pipe.pos, pipe, list, elseList };
  }

  private templateName(t: Token, context: string): string {
    if (t.type !== 'string' && t.type !== 'rawString') this.unexpected(t, context);
    const name = unquote(t.val);
    if (name === undefined) this.errorf('invalid syntax', t.pos);
    return name;
  }

  private templateControl(): TemplateNode {
    const context = 'template clause';
    const t = this.nextNonSpace();
    const name = this.templateName(t, context);
    let pipe: PipeNode | undefined;
    if (this.nextNonSpace().type !== 'rightDelim') {
      this.backup();
      pipe = this.pipeline(context, 'rightDelim');
    }
    return { type: 'template', pos: t.pos, name, pipe };
  }

  private blockControl(): TemplateNode {
    const context = 'block clause';
    const t = this.nextNonSpace();
    const name = this.templateName(t, context);
    const pipe = this.pipeline(context, 'rightDelim');
    const list = this.withFreshScope(() => {
      const [body, end] = this.itemList();
      if (end.type !== 'end') this.errorf(`unexpected {{${end.type}}} in ${context}`, end.pos);
      return body;
    });
    this.addTemplate(name, list, t.pos);
    return { type: 'template', pos: t.pos, name, pipe };
  }

  // ---- pipelines ----
  private pipeline(context: string, end: 'rightDelim' | 'rightParen'): PipeNode {
    const pipe: PipeNode = { type: 'pipe', pos: this.peekNonSpace().pos, isAssign: false, decl: [], cmds: [] };
    for (;;) {
      const v = this.peekNonSpace();
      if (v.type !== 'variable') break;
      const varIndex = this.i;
      this.next();
      const next = this.peekNonSpace();
      if (next.type === 'assign' || next.type === 'declare') {
        this.nextNonSpace();
        pipe.isAssign = next.type === 'assign';
        if (pipe.isAssign && !this.vars.includes(v.val))
          this.errorf(`undefined variable ${JSON.stringify(v.val)}`, v.pos);
        pipe.decl.push({ type: 'variable', pos: v.pos, ident: [v.val] });
        if (!pipe.isAssign) this.vars.push(v.val);
        break;
      }
      if (next.type === 'char' && next.val === ',') {
        this.nextNonSpace();
        pipe.decl.push({ type: 'variable', pos: v.pos, ident: [v.val] });
        this.vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          const p = this.peekNonSpace();
          if (p.type === 'variable' || p.type === 'rightDelim' || p.type === 'rightParen') continue;
          this.errorf('range can only initialize variables', p.pos);
        }
        this.errorf(`too many declarations in ${context}`, next.pos);
      }
      this.i = varIndex;
      break;
    }
    for (;;) {
      const t = this.nextNonSpace();
      if (t.type === end) {
        this.checkPipeline(pipe, context);
        return pipe;
      }
      if (!OPERAND_START.has(t.type)) this.unexpected(t, context);
      this.backup();
      pipe.cmds.push(this.command());
    }
  }

  private checkPipeline(pipe: PipeNode, context: string): void {
    if (pipe.cmds.length === 0) this.errorf(`missing value for ${context}`);
    for (let i = 1; i < pipe.cmds.length; i++) {
      const first = pipe.cmds[i].args[0];
      if (['bool', 'dot', 'nil', 'number', 'string'].includes(first.type)) {
        this.errorf(`non executable command in pipeline stage ${i + 1}`, first.pos);
      }
    }
  }

  private command(): CommandNode {
    const cmd: CommandNode = { pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const t = this.next();
      if (t.type === 'space') continue;
      if (t.type === 'rightDelim' || t.type === 'rightParen') this.backup();
      else if (t.type !== 'pipe') this.unexpected(t, 'operand');
      break;
    }
    if (cmd.args.length === 0) this.errorf('empty command');
    return cmd;
  }

  private operand(): ArgNode | undefined {
    const node = this.term();
    if (!node || this.peek().type !== 'field') return node;
    const pos = this.peek().pos;
    const fields: string[] = [];
    while (this.peek().type === 'field') fields.push(this.next().val.slice(1));
    switch (node.type) {
      case 'field':
      case 'variable':
        return { type: node.type, pos, ident: [...node.ident, ...fields] };
      case 'bool':
      case 'string':
      case 'number':
      case 'nil':
      case 'dot':
        this.errorf(`unexpected . after term ${JSON.stringify(nodeString(node))}`, pos);
        break;
    }
    return { type: 'chain', pos, node, fields };
  }

  private term(): ArgNode | undefined {
    const t = this.nextNonSpace();
    switch (t.type) {
      case 'identifier':
        if (!this.ctx.hasFunction(t.val)) {
          this.errorf(
            `function ${JSON.stringify(t.val)} not defined`,
            t.pos,
            didYouMean(t.val, this.ctx.functionNames()),
          );
        }
        this.funcsUsed.add(t.val);
        return { type: 'identifier', pos: t.pos, name: t.val };
      case 'dot':
        return { type: 'dot', pos: t.pos };
      case 'nil':
        return { type: 'nil', pos: t.pos };
      case 'variable':
        if (!this.vars.includes(t.val)) this.errorf(`undefined variable ${JSON.stringify(t.val)}`, t.pos);
        return { type: 'variable', pos: t.pos, ident: [t.val] };
      case 'field':
        return { type: 'field', pos: t.pos, ident: [t.val.slice(1)] };
      case 'bool':
        return { type: 'bool', pos: t.pos, value: t.val === 'true' };
      case 'charConstant':
      case 'number':
        return this.number(t);
      case 'leftParen':
        return this.pipeline('parenthesized pipeline', 'rightParen');
      case 'string':
      case 'rawString':
        return this.string(t);
    }
    this.backup();
    return undefined;
  }

  private string(t: Token): StringNode {
    const value = unquote(t.val);
    if (value === undefined) this.errorf('invalid syntax', t.pos);
    return { type: 'string', pos: t.pos, value, quoted: t.val };
  }

  private number(t: Token): NumberNode {
    const text = t.val;
    if (t.type === 'charConstant') {
      const ch = unquote(text);
      if (ch === undefined) this.errorf(`malformed character constant: ${text}`, t.pos);
      return { type: 'number', pos: t.pos, value: ch.codePointAt(0)!, text };
    }
    const value = parseNumber(text);
    if (value === undefined) {
      if (text.endsWith('i')) this.errorf(`complex numbers are not supported: ${JSON.stringify(text)}`, t.pos);
      this.errorf(`illegal number syntax: ${JSON.stringify(text)}`, t.pos);
    }
    return { type: 'number', pos: t.pos, value, text };
  }
}

/** Go integer (base prefixes, legacy octal) or float literal; undefined when Go would reject it. */
function parseNumber(text: string): number | undefined {
  const clean = text.replaceAll('_', '');
  const sign = clean[0] === '-' ? -1 : 1;
  const body = clean[0] === '-' || clean[0] === '+' ? clean.slice(1) : clean;
  const radix: Array<[RegExp, number]> = [
    [/^0[xX]([0-9a-fA-F]+)$/, 16],
    [/^0[oO]?([0-7]+)$/, 8],
    [/^0[bB]([01]+)$/, 2],
  ];
  for (const [re, base] of radix) {
    const m = re.exec(body);
    if (m) return sign * Number.parseInt(m[1], base);
  }
  if (/^(0|[1-9]\d*)$/.test(body)) return sign * Number(body);
  if (/^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(body) && /[.eE]/.test(body)) return sign * Number(body);
  return undefined;
}

function isMarker(n: Node | Marker): n is Marker {
  return n.type === 'end' || n.type === 'else';
}

function isEmptyList(list: ListNode): boolean {
  return list.nodes.every((n) => n.type === 'text' && n.text.trim() === '');
}
