/**
 * Executor for parsed Go templates, written by hand after text/template/exec.go (no usable npm package exists).
 * Walks the tree with a variable stack, evaluates pipelines and reports errors with Go's wording and the node context.
 */
import { didYouMean } from '../util/suggest.ts';
import type {
  ArgNode,
  ChainNode,
  CommandNode,
  ControlNode,
  FieldNode,
  IdentifierNode,
  ListNode,
  Node,
  PipeNode,
  TemplateNode,
  VariableNode,
} from './ast.ts';
import { nodeString } from './ast.ts';
import { BudgetExceeded, RenderBudget, type TemplateLimits, withBudget } from './budget.ts';
import { lineCol, TemplateError } from './errors.ts';
import { formatValue } from './format.ts';
import {
  builtinAnd,
  builtinOr,
  type FuncMap,
  GO_TYPE,
  type ParamKind,
  signatureOf,
  type TemplateFunction,
} from './funcs.ts';
import { GomplateNamespace } from './gomplate.ts';
import type { ParsedTree } from './parser.ts';
import { type GoMap, isMap, isTrue, kindOf, mapEntries, mapGet, mapKeys, typeName } from './value.ts';

export type MissingKey = 'default' | 'zero' | 'error';

export interface ExecContext {
  /** The name given at parse time (Go's ParseName), used in error locations. */
  name: string;
  text: string;
  tree: ParsedTree;
  missingkey: MissingKey;
  /** Looked up in order; the first map holding the name wins. */
  funcs: FuncMap[];
  limits: TemplateLimits;
}

/** Marks "no value from a previous pipeline stage", which differs from a stage that produced a missing value. */
const NO_FINAL: unique symbol = Symbol('noFinal');
type Final = unknown;

/** Walk results: normal completion, {{break}}, {{continue}}. */
const NORMAL = 0;
const BREAK = 1;
const CONTINUE = 2;
type Flow = 0 | 1 | 2;

/** Go allows 100000 nested template calls; JS stacks are smaller, so stop earlier with the same message. */
const MAX_EXEC_DEPTH = 1000;

interface Variable {
  name: string;
  value: unknown;
}

type ErrorNode = Node | ArgNode | CommandNode;

export function execute(ctx: ExecContext, data: unknown): string {
  return new Exec(ctx).run(data);
}

class Exec {
  private out = '';
  private vars: Variable[] = [];
  private node: ErrorNode | undefined;
  private execName: string;
  private depth = 0;
  private readonly budget: RenderBudget;

  constructor(private readonly ctx: ExecContext) {
    this.execName = ctx.name;
    this.budget = new RenderBudget(ctx.limits);
  }

  run(data: unknown): string {
    this.vars = [{ name: '$', value: data }];
    try {
      withBudget(this.budget, () => this.walkList(data, this.ctx.tree.root));
    } catch (error) {
      // Cyclic or absurdly deep data overflows the JS stack: report it where it happened, not as a crash.
      if (error instanceof RangeError) this.errorf(`nesting too deep: ${error.message}`, undefined, error);
      if (error instanceof BudgetExceeded) this.errorf(error.message, error.hint, error);
      throw error;
    }
    return this.out;
  }

  /** Appends to the output within the size budget. */
  private emit(text: string): void {
    this.budget.checkSize(this.out.length + text.length);
    this.out += text;
  }

  private errorf(message: string, hint?: string, cause?: unknown): never {
    const node = this.node;
    const pos = node?.pos ?? 0;
    const { line, goCol } = lineCol(this.ctx.text, pos);
    const expression = node ? nodeString(node) : '';
    throw new TemplateError(
      `template: ${this.ctx.name}:${line}:${goCol}: executing ${JSON.stringify(this.execName)} at <${expression}>: ${message}`,
      { templateName: this.ctx.name, line, col: goCol + 1, expression, hint, source: this.ctx.text, cause },
    );
  }

  // ---------------------------------------------------------------- statements

  private walkList(dot: unknown, list: ListNode): Flow {
    for (const node of list.nodes) {
      const flow = this.walk(dot, node);
      if (flow !== NORMAL) return flow;
    }
    return NORMAL;
  }

  private walk(dot: unknown, node: Node): Flow {
    this.budget.step();
    switch (node.type) {
      case 'text':
        this.emit(node.text);
        return NORMAL;
      case 'action': {
        const value = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.printValue(node, value);
        return NORMAL;
      }
      case 'if':
      case 'with':
        return this.walkIfOrWith(dot, node);
      case 'range':
        return this.walkRange(dot, node);
      case 'template':
        return this.walkTemplate(dot, node);
      case 'break':
        return BREAK;
      case 'continue':
        return CONTINUE;
    }
  }

  private printValue(node: Node, value: unknown): void {
    if (value === undefined || value === null) {
      this.emit('<no value>');
      return;
    }
    if (typeof value === 'function') {
      this.node = node;
      this.errorf(`can't print ${nodeString(node)} of type ${typeName(value)}`);
    }
    this.emit(formatValue(value));
  }

  private walkIfOrWith(dot: unknown, node: ControlNode): Flow {
    const mark = this.vars.length;
    const value = this.evalPipeline(dot, node.pipe);
    let flow: Flow = NORMAL;
    if (isTrue(value)) flow = this.walkList(node.type === 'with' ? value : dot, node.list);
    else if (node.elseList) flow = this.walkList(dot, node.elseList);
    this.vars.length = mark;
    return flow;
  }

  private walkRange(dot: unknown, node: ControlNode): Flow {
    this.node = node;
    const mark = this.vars.length;
    const value = this.evalPipeline(dot, node.pipe);
    const { decl, isAssign } = node.pipe;
    const iteration = (key: unknown, elem: unknown): Flow => {
      if (decl.length > 0) {
        if (isAssign) this.setVar(decl[0].ident[0], decl.length > 1 ? key : elem);
        else this.vars[this.vars.length - 1].value = elem;
      }
      if (decl.length > 1) {
        if (isAssign) this.setVar(decl[1].ident[0], elem);
        else this.vars[this.vars.length - 2].value = key;
      }
      this.budget.iterate();
      const inner = this.vars.length;
      const flow = this.walkList(elem, node.list);
      this.vars.length = inner;
      return flow;
    };
    let ran = false;
    switch (kindOf(value)) {
      case 'slice':
        for (let i = 0; i < (value as unknown[]).length; i++) {
          ran = true;
          if (iteration(i, (value as unknown[])[i]) === BREAK) break;
        }
        break;
      case 'map':
        for (const [k, v] of mapEntries(value as GoMap)) {
          ran = true;
          if (iteration(k, v) === BREAK) break;
        }
        break;
      case 'int': {
        // Like Go, these errors point at the last node evaluated (the range pipeline's operand).
        if (decl.length > 1) {
          this.errorf(`can't use ${formatValue(value)} to iterate over more than one variable`);
        }
        const n = Number(value);
        for (let i = 0; i < n; i++) {
          ran = true;
          if (iteration(i, i) === BREAK) break;
        }
        break;
      }
      case 'invalid':
      case 'nil':
        break;
      default:
        this.errorf(`range can't iterate over ${formatValue(value)}`);
    }
    if (!ran && node.elseList) this.walkList(dot, node.elseList);
    this.vars.length = mark;
    return NORMAL;
  }

  private walkTemplate(dot: unknown, node: TemplateNode): Flow {
    this.node = node;
    const { tree, name } = this.ctx;
    const list = tree.defines.get(node.name) ?? (node.name === name ? tree.root : undefined);
    if (!list) this.errorf(`template ${JSON.stringify(node.name)} not defined`);
    if (this.depth >= MAX_EXEC_DEPTH) this.errorf(`exceeded maximum template depth (${MAX_EXEC_DEPTH})`);
    const newDot = node.pipe ? this.evalPipeline(dot, node.pipe) : undefined;
    const savedVars = this.vars;
    const savedName = this.execName;
    this.vars = [{ name: '$', value: newDot }];
    this.execName = node.name;
    this.depth++;
    try {
      this.walkList(newDot, list);
    } finally {
      this.depth--;
      this.vars = savedVars;
      this.execName = savedName;
    }
    return NORMAL;
  }

  // ---------------------------------------------------------------- variables

  private varValue(name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i].name === name) return this.vars[i].value;
    this.errorf(`undefined variable: ${name}`);
  }

  private setVar(name: string, value: unknown): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i].name === name) {
        this.vars[i].value = value;
        return;
      }
    }
    this.errorf(`undefined variable: ${name}`);
  }

  // ---------------------------------------------------------------- expressions

  private evalPipeline(dot: unknown, pipe: PipeNode): unknown {
    this.node = pipe;
    let value: unknown;
    let final: Final = NO_FINAL;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(dot, cmd, final);
      // Go digs through interface{}: a nil from one stage is "no value" for the next.
      if (value === null) value = undefined;
      final = value;
    }
    for (const variable of pipe.decl) {
      if (pipe.isAssign) this.setVar(variable.ident[0], value);
      else this.vars.push({ name: variable.ident[0], value });
    }
    return value;
  }

  private evalCommand(dot: unknown, cmd: CommandNode, final: Final): unknown {
    const first = cmd.args[0];
    switch (first.type) {
      case 'field':
        return this.evalFieldNode(dot, first, cmd.args, final);
      case 'chain':
        return this.evalChainNode(dot, first, cmd.args, final);
      case 'identifier':
        return this.evalFunction(dot, first, cmd, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case 'variable':
        return this.evalVariableNode(dot, first, cmd.args, final);
    }
    this.node = first;
    this.notAFunction(cmd.args, final);
    switch (first.type) {
      case 'bool':
      case 'number':
      case 'string':
        return first.value;
      case 'dot':
        return dot;
      case 'nil':
        this.errorf('nil is not a command');
    }
  }

  private notAFunction(args: ArgNode[], final: Final): void {
    if (args.length > 1 || final !== NO_FINAL)
      this.errorf(`can't give argument to non-function ${nodeString(args[0])}`);
  }

  private evalFieldNode(dot: unknown, field: FieldNode, args: ArgNode[], final: Final): unknown {
    this.node = field;
    return this.evalFieldChain(dot, dot, field, field.ident, 0, args, final);
  }

  private evalChainNode(dot: unknown, chain: ChainNode, args: ArgNode[], final: Final): unknown {
    this.node = chain;
    if (chain.node.type === 'nil') this.errorf(`indirection through explicit nil in ${nodeString(chain)}`);
    const receiver = this.evalArg(dot, 'value', chain.node);
    return this.evalFieldChain(dot, receiver, chain, chain.fields, 0, args, final);
  }

  private evalVariableNode(dot: unknown, variable: VariableNode, args: ArgNode[], final: Final): unknown {
    this.node = variable;
    const value = this.varValue(variable.ident[0]);
    if (variable.ident.length === 1) {
      this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(dot, value, variable, variable.ident, 1, args, final);
  }

  private evalFieldChain(
    dot: unknown,
    receiver: unknown,
    node: FieldNode | ChainNode | VariableNode,
    ident: string[],
    start: number,
    args: ArgNode[],
    final: Final,
  ): unknown {
    const last = ident.length - 1;
    for (let i = start; i < last; i++) receiver = this.evalField(dot, ident, i, node, undefined, NO_FINAL, receiver);
    return this.evalField(dot, ident, last, node, args, final, receiver);
  }

  private evalField(
    dot: unknown,
    ident: string[],
    index: number,
    node: FieldNode | ChainNode | VariableNode,
    args: ArgNode[] | undefined,
    final: Final,
    receiver: unknown,
  ): unknown {
    const name = ident[index];
    if (receiver === undefined) {
      if (this.ctx.missingkey === 'error') this.errorf(`nil data; no entry for key ${JSON.stringify(name)}`);
      return undefined;
    }
    if (receiver === null) this.errorf(`nil pointer evaluating interface {}.${name}`);
    const hasArgs = (args !== undefined && args.length > 1) || final !== NO_FINAL;
    if (isMap(receiver)) {
      const got = mapGet(receiver, name);
      // A function stored in a map is a value (for `call`), but called like a method when given arguments.
      if (got.found && hasArgs && typeof got.value === 'function') {
        return this.evalCall(dot, got.value as TemplateFunction, node, name, args ?? [], final, receiver);
      }
      if (hasArgs) this.errorf(`${name} is not a method but has arguments`);
      if (got.found) return got.value;
      if (this.ctx.missingkey === 'error') {
        this.errorf(
          `map has no entry for key ${JSON.stringify(name)}`,
          missingKeyHint(node, ident, index, name, receiver),
        );
      }
      return this.ctx.missingkey === 'zero' ? null : undefined;
    }
    const kind = kindOf(receiver);
    if (kind === 'struct' || kind === 'time') {
      const member = (receiver as Record<string, unknown>)[name];
      if (typeof member === 'function') {
        return this.evalCall(dot, member as TemplateFunction, node, name, args ?? [], final, receiver);
      }
      if (name in (receiver as object)) {
        if (hasArgs) this.errorf(`${name} has arguments but cannot be invoked as function`);
        return member;
      }
    }
    if (receiver instanceof GomplateNamespace) {
      this.errorf(
        `${receiver.namespace}.${name} is not a function strata provides`,
        didYouMean(name, receiver.names()) ?? `${receiver.namespace} has: ${receiver.names().sort().join(', ')}`,
      );
    }
    this.errorf(`can't evaluate field ${name} in type ${typeName(receiver)}`);
  }

  private lookupFunction(name: string): TemplateFunction | undefined {
    for (const map of this.ctx.funcs) if (Object.hasOwn(map, name)) return map[name];
    return undefined;
  }

  private evalFunction(dot: unknown, node: IdentifierNode, cmd: ArgNode | CommandNode, args: ArgNode[], final: Final) {
    this.node = node;
    const fn = this.lookupFunction(node.name);
    if (!fn) this.errorf(`${JSON.stringify(node.name)} is not a defined function`);
    return this.evalCall(dot, fn, cmd, node.name, args, final, undefined);
  }

  /** Calls fn with the evaluated args (args[0] is the function's own node) plus the previous stage's value. */
  private evalCall(
    dot: unknown,
    fn: TemplateFunction,
    node: ErrorNode,
    name: string,
    args: ArgNode[],
    final: Final,
    self: unknown,
  ): unknown {
    const sig = signatureOf(fn);
    const numArgs = args.length > 0 ? args.length - 1 : 0;
    const numIn = numArgs + (final === NO_FINAL ? 0 : 1);
    if (sig) {
      const fixed = sig.params.length;
      if (numIn < fixed || (!sig.variadic && numIn !== fixed)) {
        this.errorf(`wrong number of args for ${name}: want ${sig.variadic ? 'at least ' : ''}${fixed} got ${numIn}`);
      }
    }
    const kindAt = (i: number): ParamKind => (sig ? (i < sig.params.length ? sig.params[i] : sig.variadic!) : 'any');
    if (fn === builtinAnd || fn === builtinOr) {
      // Go 1.18+: and/or evaluate their arguments lazily and return the deciding value itself.
      const wantTrue = fn === builtinOr;
      let v: unknown;
      for (let i = 1; i < args.length; i++) {
        v = this.evalArg(dot, 'value', args[i]);
        if (isTrue(v) === wantTrue) return v;
      }
      return final === NO_FINAL ? v : final;
    }
    const argv: unknown[] = new Array(numIn);
    for (let i = 1; i < args.length; i++) argv[i - 1] = this.evalArg(dot, kindAt(i - 1), args[i]);
    if (final !== NO_FINAL) argv[numIn - 1] = this.validateType(final, kindAt(numIn - 1));
    this.node = node;
    let result: unknown;
    try {
      this.budget.step();
      result = fn.apply(self, argv);
      // Values that grow without being printed (`$x = cat $x $x`) are bounded too.
      if (typeof result === 'string') this.budget.checkSize(result.length);
      else if (Array.isArray(result) && result.length > 1000) this.budget.iterate(result.length);
    } catch (error) {
      if (error instanceof BudgetExceeded) this.errorf(error.message, error.hint, error);
      const message = error instanceof Error ? error.message : String(error);
      const hint = error instanceof TemplateError ? error.hint : undefined;
      this.errorf(`error calling ${name}: ${message}`, hint, error);
    }
    return result === undefined ? null : result;
  }

  private evalArg(dot: unknown, kind: ParamKind, n: ArgNode): unknown {
    this.node = n;
    switch (n.type) {
      case 'dot':
        return this.validateType(dot, kind);
      case 'nil':
        if (kind === 'any' || kind === 'list' || kind === 'map') return null;
        this.errorf(`cannot assign nil to ${GO_TYPE[kind]}`);
        break;
      case 'field':
        return this.validateType(this.evalFieldNode(dot, n, [n], NO_FINAL), kind);
      case 'variable':
        return this.validateType(this.evalVariableNode(dot, n, [n], NO_FINAL), kind);
      case 'pipe':
        return this.validateType(this.evalPipeline(dot, n), kind);
      case 'identifier':
        return this.validateType(this.evalFunction(dot, n, n, [], NO_FINAL), kind);
      case 'chain':
        return this.validateType(this.evalChainNode(dot, n, [], NO_FINAL), kind);
      case 'bool':
      case 'number':
      case 'string':
        return this.validateType(n.value, kind);
    }
  }

  private validateType(value: unknown, kind: ParamKind): unknown {
    switch (kind) {
      case 'value':
        return value;
      case 'any':
        return value === undefined ? null : value;
      case 'list':
        if (value === undefined || value === null) return null;
        if (Array.isArray(value)) return value;
        break;
      case 'map':
        if (value === undefined || value === null) return null;
        if (isMap(value)) return value;
        break;
      default:
        if (value === undefined || value === null) this.errorf(`invalid value; expected ${GO_TYPE[kind]}`);
        if (kind === 'string' && typeof value === 'string') return value;
        if (kind === 'bool' && typeof value === 'boolean') return value;
        if (kind === 'float' && typeof value === 'number') return value;
        if (kind === 'int') {
          if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
          if (typeof value === 'bigint') return Number(value);
        }
    }
    this.errorf(`wrong type for value; expected ${GO_TYPE[kind]}; got ${typeName(value)}`);
  }
}

/** "available keys under .vars: a, b" plus a did-you-mean, for a missing map key. */
function missingKeyHint(
  node: FieldNode | ChainNode | VariableNode,
  ident: string[],
  index: number,
  name: string,
  receiver: GoMap,
): string {
  let path: string;
  if (node.type === 'field') path = `.${ident.slice(0, index).join('.')}`;
  else if (node.type === 'variable') path = ident.slice(0, index).join('.');
  else {
    const base = node.node.type === 'pipe' ? `(${nodeString(node.node)})` : nodeString(node.node);
    path = [base, ...ident.slice(0, index)].join('.');
  }
  const keys = mapKeys(receiver);
  if (keys.length === 0) return `${path} is an empty map`;
  const shown = keys.length > 40 ? `${keys.slice(0, 40).join(', ')}, ... (${keys.length - 40} more)` : keys.join(', ');
  const suggestion = didYouMean(name, keys);
  return `available keys under ${path}: ${shown}${suggestion ? `. ${suggestion}` : ''}`;
}
