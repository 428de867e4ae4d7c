/**
 * Where a problem is in a journey's file: its line and column from the YAML document, its path as
 * ops teams read it (`steps[3].sms.text`), and the schema's issues said in their terms.
 */
import { isMap, type Document, type LineCounter, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { journeyDefinition } from '../schema/journey';
import { stepKinds } from '../schema/registry';
import type { PathSeg } from '../steps';
import { closest } from '../suggest';

export function formatPath(path: readonly PathSeg[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    // A key that is not a plain name (empty, with spaces or dots) is quoted, so it can be seen.
    else if (!/^[A-Za-z0-9_$][\w$-]*$/.test(seg)) out += `[${JSON.stringify(seg)}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}

export class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  private pos(offset: number): { line: number; column: number } {
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  /** The deepest node on the path that exists, and whether it is the node itself. */
  private nodeAt(path: readonly PathSeg[]): YamlNode | undefined {
    for (let n = path.length; n >= 0; n--) {
      const node = this.doc.getIn(path.slice(0, n), true) as YamlNode | undefined;
      if (node && typeof node === 'object' && 'range' in node && node.range) return node;
    }
    return undefined;
  }

  at(path: readonly PathSeg[]): { line: number; column: number } {
    const node = this.nodeAt(path);
    return node?.range ? this.pos(node.range[0]) : { line: 1, column: 1 };
  }

  /** Position of the character `offset` inside the scalar at `path` (for CEL errors). */
  inScalar(path: readonly PathSeg[], offset: number): { line: number; column: number } {
    const node = this.doc.getIn(path, true) as (YamlNode & { type?: string }) | undefined;
    if (!node?.range) return this.at(path);
    const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE' ? 1 : 0;
    const plain = node.type === 'PLAIN' || quoted === 1;
    return this.pos(node.range[0] + (plain ? quoted + offset : 0));
  }

  /** Position of a key inside the mapping at `path` (for unknown fields). */
  key(path: readonly PathSeg[], key: string): { line: number; column: number } {
    const node = this.doc.getIn(path, true);
    if (isMap(node)) {
      for (const pair of node.items) {
        const k = pair.key as YamlNode | null;
        if (k && typeof k === 'object' && 'value' in k && k.value === key && k.range) return this.pos(k.range[0]);
      }
    }
    return this.at(path);
  }
}

export function valueAt(data: unknown, path: readonly PathSeg[]): unknown {
  let cur = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

/** The keys a strict object schema at `path` accepts, found by walking the schema along the data. */
function allowedKeys(path: readonly PathSeg[], data: unknown): string[] {
  let schema: z.ZodType | undefined = journeyDefinition;
  for (let i = 0; i <= path.length && schema; i++) {
    schema = unwrap(schema, valueAt(data, path.slice(0, i)));
    if (i === path.length) break;
    const seg = path[i]!;
    const def = schema.def as { type: string; shape?: Record<string, z.ZodType>; element?: z.ZodType };
    if (def.type === 'object' && typeof seg === 'string') schema = def.shape?.[seg];
    else if (def.type === 'array') schema = def.element;
    else schema = undefined;
  }
  if (!schema) return [];
  const def = schema.def as { type: string; shape?: Record<string, unknown> };
  return def.type === 'object' && def.shape ? Object.keys(def.shape).filter((k) => k !== '$schema') : [];
}

function unwrap(schema: z.ZodType, value: unknown): z.ZodType {
  for (;;) {
    const def = schema.def as {
      type: string;
      innerType?: z.ZodType;
      getter?: () => z.ZodType;
      in?: z.ZodType;
      options?: z.ZodType[];
      discriminator?: string;
    };
    if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable') schema = def.innerType!;
    else if (def.type === 'lazy') schema = def.getter!();
    else if (def.type === 'pipe') schema = def.in!;
    else if (def.type === 'union' && def.discriminator && value && typeof value === 'object') {
      const tag = (value as Record<string, unknown>)[def.discriminator];
      const match = def.options!.find((o) => {
        const shape = (o.def as { shape?: Record<string, z.ZodType> }).shape;
        const lit = shape?.[def.discriminator!]?.def as { values?: unknown[] } | undefined;
        return lit?.values?.includes(tag);
      });
      if (!match) return schema;
      schema = match;
    } else return schema;
  }
}

export function describeIssue(
  issue: z.core.$ZodIssue,
  data: unknown,
): { path: PathSeg[]; message: string; key?: string }[] {
  const path = issue.path.filter((s): s is PathSeg => typeof s !== 'symbol');
  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = allowedKeys(path, data);
      return issue.keys.map((key) => {
        const guess = closest(key, allowed);
        return {
          path: [...path, key],
          key,
          message:
            `unknown field "${key}"` +
            (guess ? `; did you mean "${guess}"?` : allowed.length ? `; expected one of ${allowed.join(', ')}` : ''),
        };
      });
    }
    case 'invalid_union': {
      if ('discriminator' in issue && issue.discriminator === 'type') {
        const value = valueAt(data, path);
        if (value === undefined) return [{ path, message: `missing "type"; expected one of ${stepKinds.join(', ')}` }];
        const guess = typeof value === 'string' ? closest(value, stepKinds) : undefined;
        return [
          {
            path,
            message:
              `unknown step type ${JSON.stringify(value)}` +
              (guess ? `; did you mean "${guess}"?` : `; expected one of ${stepKinds.join(', ')}`),
          },
        ];
      }
      return [{ path, message: issue.message }];
    }
    case 'invalid_type': {
      const value = valueAt(data, path);
      if (value === undefined) {
        const field = path[path.length - 1];
        return [{ path, message: `missing required field "${String(field)}" (expected ${issue.expected})` }];
      }
      return [{ path, message: `expected ${issue.expected}, got ${Array.isArray(value) ? 'list' : typeof value}` }];
    }
    case 'invalid_value':
      return [
        {
          path,
          message: `got ${JSON.stringify(valueAt(data, path))}; expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`,
        },
      ];
    default:
      return [{ path, message: issue.message }];
  }
}
