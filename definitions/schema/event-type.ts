import { z } from 'zod';

export const eventTypeName = z
  .string()
  .regex(
    /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/,
    'expected an event type such as order.placed (lowercase, dot-separated)',
  );
