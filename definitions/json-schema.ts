/** The JSON Schema of the journey format, generated from the zod schema, for editors (yaml-language-server). */
import { z } from 'zod';
import { journeyDefinition } from './schema/journey';

export function journeyJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(journeyDefinition, {
    target: 'draft-7',
    io: 'input',
    unrepresentable: 'any',
    cycles: 'ref',
  }) as Record<string, unknown>;
  return {
    ...schema,
    $id: 'https://rapport.dev/schemas/journey.schema.json',
    title: 'Rapport journey definition',
  };
}
