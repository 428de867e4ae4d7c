/** `tsx scripts/journey-schema.ts [--check]`: writes definitions/journey.schema.json, or checks it is current. */
import fs from 'node:fs';
import path from 'node:path';
import { journeyJsonSchema } from '../definitions/json-schema';
import { projectRoot } from '../paths';

const file = path.join(projectRoot, 'definitions', 'journey.schema.json');
const text = `${JSON.stringify(journeyJsonSchema(), null, 2)}\n`;
if (process.argv.includes('--check')) {
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  if (current !== text) {
    console.error(`${path.relative(process.cwd(), file)} is stale: run \`npm run schema\` and commit it`);
    process.exit(1);
  }
  console.log(`${path.relative(process.cwd(), file)} is current`);
} else {
  fs.writeFileSync(file, text);
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}
