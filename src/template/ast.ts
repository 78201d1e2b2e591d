/** Parse tree of a Go template, mirroring text/template/parse node kinds. `pos` is a source offset. */

export interface TextNode {
  type: 'text';
  pos: number;
  text: string;
}
export interface ActionNode {
  type: 'action';
  pos: number;
  pipe: PipeNode;
}
export interface ControlNode {
  type: 'if' | 'range' | 'with';
  pos: number;
  pipe: PipeNode;
  list: ListNode;
  elseList?: ListNode;
}
export interface TemplateNode {
  type: 'template';
  pos: number;
  name: string;
  pipe?: PipeNode;
}
export interface LoopControlNode {
  type: 'break' | 'continue';
  pos: number;
}
export type Node = TextNode | ActionNode | ControlNode | TemplateNode | LoopControlNode;

export interface ListNode {
  pos: number;
  nodes: Node[];
}

export interface VariableNode {
  type: 'variable';
  pos: number;
  /** `$x` then the field names of `$x.a.b`. */
  ident: string[];
}
export interface PipeNode {
  type: 'pipe';
  pos: number;
  isAssign: boolean;
  decl: VariableNode[];
  cmds: CommandNode[];
}
export interface CommandNode {
  pos: number;
  args: ArgNode[];
}
export interface FieldNode {
  type: 'field';
  pos: number;
  ident: string[];
}
export interface IdentifierNode {
  type: 'identifier';
  pos: number;
  name: string;
}
export interface ChainNode {
  type: 'chain';
  pos: number;
  node: ArgNode;
  fields: string[];
}
export interface DotNode {
  type: 'dot';
  pos: number;
}
export interface NilNode {
  type: 'nil';
  pos: number;
}
export interface BoolNode {
  type: 'bool';
  pos: number;
  value: boolean;
}
export interface NumberNode {
  type: 'number';
  pos: number;
  value: number;
  text: string;
}
export interface StringNode {
  type: 'string';
  pos: number;
  value: string;
  quoted: string;
}
export type ArgNode =
  | FieldNode
  | VariableNode
  | IdentifierNode
  | ChainNode
  | PipeNode
  | DotNode
  | NilNode
  | BoolNode
  | NumberNode
  | StringNode;

/** Go's Node.String(): the canonical text used in error contexts (`at <...>`). */
export function nodeString(node: ArgNode | Node | CommandNode | ListNode): string {
  if ('nodes' in node) return node.nodes.map((n) => nodeString(n)).join('');
  if (!('type' in node))
    return node.args.map((a) => (a.type === 'pipe' ? `(${nodeString(a)})` : nodeString(a))).join(' ');
  switch (node.type) {
    case 'text':
      return node.text;
    case 'action':
      return `{{${nodeString(node.pipe)}}}`;
    case 'if':
    case 'range':
    case 'with': {
      const head = `{{${node.type} ${nodeString(node.pipe)}}}${nodeString(node.list)}`;
      return node.elseList ? `${head}{{else}}${nodeString(node.elseList)}{{end}}` : `${head}{{end}}`;
    }
    case 'template':
      return node.pipe
        ? `{{template ${JSON.stringify(node.name)} ${nodeString(node.pipe)}}}`
        : `{{template ${JSON.stringify(node.name)}}}`;
    case 'break':
    case 'continue':
      return `{{${node.type}}}`;
    case 'pipe': {
      let s = '';
      if (node.decl.length > 0)
        s = `${node.decl.map((d) => d.ident.join('.')).join(', ')} ${node.isAssign ? '=' : ':='} `;
      return s + node.cmds.map((c) => nodeString(c)).join(' | ');
    }
    case 'field':
      return `.${node.ident.join('.')}`;
    case 'variable':
      return node.ident.join('.');
    case 'identifier':
      return node.name;
    case 'chain': {
      const inner = node.node.type === 'pipe' ? `(${nodeString(node.node)})` : nodeString(node.node);
      return `${inner}.${node.fields.join('.')}`;
    }
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return String(node.value);
    case 'number':
      return node.text;
    case 'string':
      return node.quoted;
  }
}
