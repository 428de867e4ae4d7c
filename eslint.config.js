// @ts-check
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');
const prettier = require('eslint-config-prettier');
const globals = require('globals');

const nodeBuiltins = require('node:module').builtinModules.flatMap((m) => [m, `node:${m}`]);

module.exports = tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.tools/**', 'data/**', 'coverage/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  prettier,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js', 'bin/*.js'] }, tsconfigRootDir: __dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: globals.node, sourceType: 'commonjs' },
    rules: { ...tseslint.configs.disableTypeChecked.rules, '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Workflows are started, signalled and asked with the definitions in workflows/messages.ts, so a
    // name and its payload's type are written once.
    files: ['**/*.ts'],
    ignores: ['workflows/messages.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector:
            'Literal[value=/^(journeyWorkflow|segmentRunWorkflow|journeyState|journeyEvent|taskCompleted|segmentRunState)$/]',
          message: 'Use the definition in workflows/messages.ts (JOURNEY_WORKFLOW, journeyStateQuery, …).',
        },
      ],
    },
  },
  {
    // Jest's asymmetric matchers (expect.any, expect.stringContaining, ...) are typed `any`.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
  {
    // Workflow code and what it imports must replay deterministically: no I/O, no clocks, no randomness.
    files: ['workflows/**/*.ts', 'definitions/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: 'Workflow code runs in a sandbox without I/O.' })),
            ...['pino', 'nodemailer', 'twilio', 'pg', 'kysely', '@electric-sql/pglite', 'fastify', 'liquidjs'].map(
              (name) => ({ name, message: 'I/O belongs in activities/, not in workflow code.' }),
            ),
            ...['@temporalio/activity', '@temporalio/client', '@temporalio/worker', '@temporalio/testing'].map(
              (name) => ({
                name,
                message: 'Workflow code may import only @temporalio/workflow and @temporalio/common.',
              }),
            ),
          ],
          patterns: [
            {
              regex: '^(\\.\\./)+(activities|worker|client|test|bench|scripts)(/|$)',
              allowTypeImports: true,
              message: 'Workflow code may import only types from activities/ (and nothing from worker/ or client/).',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'Not available in workflow code.' },
        { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'Use a seeded choice recorded in the workflow.' },
      ],
    },
  },
);
