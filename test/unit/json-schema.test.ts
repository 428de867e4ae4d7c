/** The committed JSON Schema is current, and editors using it accept what Rapport accepts. */
import fs from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { journeyJsonSchema } from '../../definitions/json-schema';
import { projectRoot } from '../../paths';

const file = path.join(projectRoot, 'definitions', 'journey.schema.json');

test('definitions/journey.schema.json is generated from the current schema (run `npm run schema` when this fails)', () => {
  expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(journeyJsonSchema());
});

test('the schema accepts every built-in journey and the format example, and refuses a misspelt field', () => {
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(JSON.parse(fs.readFileSync(file, 'utf8')) as object);
  const dir = path.join(projectRoot, 'definitions', 'journeys');
  const files = [
    ...fs
      .readdirSync(dir)
      .filter((f) => !f.endsWith('.scenarios.yaml'))
      .map((f) => path.join(dir, f)),
    path.join(projectRoot, 'test/fixtures/format/example.yaml'),
  ];
  for (const f of files) {
    const ok = validate(parse(fs.readFileSync(f, 'utf8')));
    expect({ file: path.basename(f), errors: ok ? [] : validate.errors }).toEqual({
      file: path.basename(f),
      errors: [],
    });
  }
  const broken = parse(fs.readFileSync(path.join(dir, 'welcome.yaml'), 'utf8')) as { steps: Record<string, unknown>[] };
  broken.steps[0] = { ...broken.steps[0], tempalte: 'x' };
  expect(validate(broken)).toBe(false);
});
