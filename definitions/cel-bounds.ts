/**
 * What a CEL condition may ask of the workflow that evaluates it, checked when a journey is
 * validated (the compiler only: none of this is in the workflow bundle).
 *
 * - `matches` runs JavaScript's backtracking regular expressions, so its pattern must be a literal
 *   (not data a caller sends) of at most 200 characters, with no nested quantifier (`(a+)+`), no
 *   repeated group of alternatives (`(a|b)*`), no backreference and no lookaround: patterns whose
 *   time can grow faster than their input's length.
 * - Comprehensions (`all`, `exists`, `exists_one`, `map`, `filter`) may not nest: one over a list runs
 *   once per element, so the work of a condition stays in proportion to the data it reads (an event is
 *   256 KiB at most), where one inside another would grow with the square of it.
 */
import { parse, type ASTNode } from '@marcbachmann/cel-js';
import safeRegex from 'safe-regex2';

const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);
const MAX_PATTERN = 200;

export interface BoundsProblem {
  offset: number;
  message: string;
}

function children(node: ASTNode): ASTNode[] {
  const args: unknown = node.args;
  const out: ASTNode[] = [];
  const visit = (value: unknown) => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object' && 'op' in value && 'args' in value) out.push(value as ASTNode);
    else if (value && typeof value === 'object') Object.values(value).forEach(visit);
  };
  if (node.op !== 'value' && node.op !== 'id') visit(args);
  return out;
}

function patternProblem(pattern: string): string | undefined {
  if (pattern.length > MAX_PATTERN) return `a matches() pattern of at most ${MAX_PATTERN} characters`;
  if (/\\[1-9]|\\k</.test(pattern)) return 'a matches() pattern without backreferences';
  if (/\(\?<?[=!]/.test(pattern)) return 'a matches() pattern without lookarounds';
  try {
    new RegExp(pattern);
  } catch (e) {
    return `a valid matches() pattern (${(e as Error).message})`;
  }
  if (!safeRegex(pattern))
    return 'a matches() pattern without nested quantifiers such as (a+)+, whose time can explode';
  // A repeated group of alternatives that can match the same text, (a|a)*, explodes as well; a
  // character class ([ab]*) says the same safely.
  if (/\((?:\?:)?[^()]*\|[^()]*\)[*+{]/.test(pattern)) {
    return 'a matches() pattern without a repeated group of alternatives such as (a|b)*: write [ab]* instead';
  }
  return undefined;
}

/** The first thing the expression asks beyond its bounds, or undefined. The expression already type-checks. */
export function celBoundsProblem(expression: string): BoundsProblem | undefined {
  let root: ASTNode;
  try {
    root = parse(expression).ast;
  } catch {
    return undefined; // checkCel reports what does not parse
  }
  const walk = (node: ASTNode, inComprehension: boolean): BoundsProblem | undefined => {
    if (node.op === 'rcall' || node.op === 'call') {
      const name = node.args[0];
      const callArgs = node.op === 'rcall' ? node.args[2] : node.args[1];
      if (name === 'matches') {
        const pattern = callArgs[callArgs.length - 1];
        if (!pattern || pattern.op !== 'value' || typeof pattern.args !== 'string') {
          return {
            offset: node.pos,
            message: 'expected a matches() pattern written in the expression, not taken from data',
          };
        }
        const problem = patternProblem(pattern.args);
        if (problem) return { offset: pattern.pos, message: `expected ${problem}` };
      }
      if (node.op === 'rcall' && COMPREHENSIONS.has(name)) {
        if (inComprehension) {
          return {
            offset: node.pos,
            message: `expected no ${name}() inside another comprehension: its work would grow with the square of the list`,
          };
        }
        // The list it runs over may itself be a comprehension's result; its body may not hold one.
        const target = walk(node.args[1], inComprehension);
        if (target) return target;
        for (const arg of callArgs) {
          const problem = walk(arg, true);
          if (problem) return problem;
        }
        return undefined;
      }
    }
    for (const child of children(node)) {
      const problem = walk(child, inComprehension);
      if (problem) return problem;
    }
    return undefined;
  };
  return walk(root, false);
}
