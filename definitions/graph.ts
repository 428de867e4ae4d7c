/**
 * A journey as a graph: Mermaid flowchart text, and a self-contained HTML page (no script, nothing
 * fetched) that a person can open. Every step kind has its shape and label, checked by the compiler.
 */
import type { JourneyDefinition, Step } from './schema/journey';
import { armsOf, specOf, stepLabel } from './steps';

type Pending = { from: string; label?: string };

function nodeId(stepId: string): string {
  return `s_${stepId.replace(/[^a-z0-9]/g, '_')}`;
}

function quote(text: string): string {
  return `"${text.replace(/"/g, '#quot;').replace(/\n/g, ' ')}"`;
}

/** The journey as a Mermaid flowchart. */
export function toMermaid(def: JourneyDefinition): string {
  const lines: string[] = ['flowchart TD'];
  const trigger = def.trigger.event
    ? `${def.trigger.event}${def.trigger.when ? ` when ${def.trigger.when}` : ''}`
    : `schedule ${def.trigger.schedule ?? ''}`;
  lines.push(`  start([${quote(def.entry?.key ? `${trigger}, one per ${def.entry.key}` : trigger)}])`);
  const edge = (p: Pending, to: string) => lines.push(`  ${p.from} -->${p.label ? `|${quote(p.label)}|` : ''} ${to}`);

  const emit = (steps: readonly Step[], incoming: Pending[]): Pending[] => {
    let pending = incoming;
    for (const step of steps) {
      const id = nodeId(step.id);
      const label = quote(stepLabel(step));
      const shape = { decision: `{${label}}`, end: `([${label}])`, wait: `[/${label}/]`, action: `[${label}]` }[
        specOf(step).shape
      ];
      lines.push(`  ${id}${shape}`);
      for (const p of pending) edge(p, id);
      const arms = armsOf(step);
      if (specOf(step).shape === 'end') pending = [];
      else if (arms.length === 0) pending = [{ from: id }];
      else {
        // Each way out: through its steps when it has some, else straight on.
        pending = arms.flatMap((arm) =>
          arm.steps.length ? emit(arm.steps, [{ from: id, label: arm.edge }]) : [{ from: id, label: arm.edge }],
        );
      }
    }
    return pending;
  };

  const end = emit(def.steps, [{ from: 'start' }]);
  lines.push('  finish([completed])');
  for (const p of end) edge(p, 'finish');
  if (def.goal)
    lines.push(
      `  goal([${quote(`goal: ${def.goal.event}${def.goal.when ? ` when ${def.goal.when}` : ''}`)}]) -.-> finish`,
    );
  if (def.exit) lines.push(`  exits([${quote(`exit on ${exitLabel(def.exit)}`)}]) -.-> finish`);
  return `${lines.join('\n')}\n`;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * The journey's steps as nested lists: steps top to bottom, each branch's steps side by side in lanes.
 * With counts (customers at each step, by step id), each step's box shows its count: the console's
 * live graph.
 */
export function flowHtml(def: JourneyDefinition, counts?: ReadonlyMap<string, number>): string {
  const list = (steps: readonly Step[]): string => `<ol class="flow">${steps.map(item).join('')}</ol>`;
  const lane = (label: string, steps: readonly Step[] | undefined) =>
    `<div class="lane"><div class="label">${esc(label)}</div>${steps?.length ? list(steps) : '<div class="pass">continue</div>'}</div>`;
  const count = (step: Step) => {
    if (!counts) return '';
    const n = counts.get(step.id) ?? 0;
    return ` <span class="count" title="customers at this step now">${n.toLocaleString('en')}</span>`;
  };
  const item = (step: Step): string => {
    const lanes = armsOf(step)
      .map((arm) => lane(arm.lane, arm.steps))
      .join('');
    return `<li class="step ${step.type}"><div class="box"><span class="kind">${esc(step.type)}</span> ${esc(stepLabel(step))}${count(step)}</div>${
      lanes ? `<div class="lanes">${lanes}</div>` : ''
    }</li>`;
  };
  return list(def.steps);
}

/** The journey as a page: steps top to bottom, branches side by side. */
export function toHtml(def: JourneyDefinition): string {
  const facts = [
    `trigger: ${def.trigger.event ?? `schedule ${def.trigger.schedule ?? ''}`}${def.trigger.when ? ` when ${def.trigger.when}` : ''}`,
    `category: ${def.category}`,
    ...(def.goal
      ? [
          `goal: ${def.goal.event}${def.goal.when ? ` when ${def.goal.when}` : ''}${def.goal.within ? ` within ${def.goal.within}` : ''}`,
        ]
      : []),
    ...(def.exit ? [`exit on: ${exitLabel(def.exit)}`] : []),
    `reentry: ${def.entry?.reentry ?? 'never'}`,
    ...(def.entry?.key ? [`one enrollment per customer and ${def.entry.key}`] : []),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(def.name)} (${esc(def.journey)})</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#222}h1{margin:0 0 .25rem}p.desc{color:#555;max-width:60rem}
ul.facts{color:#444;padding-left:1.2rem}.flow{list-style:none;padding:0;margin:0}.step{margin:.4rem 0}
.box{display:inline-block;border:1px solid #999;border-radius:6px;padding:.35rem .6rem;background:#fff}
.kind{font-size:11px;text-transform:uppercase;color:#fff;background:#555;border-radius:3px;padding:0 .3rem;margin-right:.3rem}
.send>.box .kind{background:#2a7}.wait>.box .kind,.wait_for>.box .kind,.digest>.box .kind{background:#c80}.branch>.box .kind,.split>.box .kind{background:#57c}
.task>.box .kind{background:#a5a}.exit>.box .kind{background:#c33}.update>.box .kind{background:#777}.webhook>.box .kind{background:#388}
.lanes{display:flex;gap:1rem;margin:.4rem 0 .4rem 1.2rem;align-items:flex-start}
.lane{border-left:3px solid #ccd;padding-left:.6rem}.label{font-size:12px;color:#557;margin-bottom:.2rem}.pass{color:#888;font-style:italic}
</style></head>
<body><h1>${esc(def.name)}</h1><p><code>${esc(def.journey)}</code></p>${def.description ? `<p class="desc">${esc(def.description)}</p>` : ''}
<ul class="facts">${facts.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>
${flowHtml(def)}
</body></html>
`;
}

/** What ends an enrollment early, in words: the exit events, and leaving the segment. */
function exitLabel(exit: NonNullable<JourneyDefinition['exit']>): string {
  return [...(exit.events ?? []), ...(exit.segment === 'leave' ? ['leaving the segment'] : [])].join(', ');
}
