// @ts-check
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');
const prettier = require('eslint-config-prettier');
const globals = require('globals');
const importX = require('eslint-plugin-import-x');

const nodeBuiltins = require('node:module').builtinModules.flatMap((m) => [m, `node:${m}`]);

/**
 * A relative import that reaches one of `folders` (top-level, or under client/), from any depth.
 * @param {string[]} folders
 */
const reaching = (folders) => `^(\\.\\./)+(${folders.join('|')})(/|$)`;

/**
 * The layers, from the bottom: definitions (pure) < workflows (deterministic) < activities (I/O) <
 * client/server (the API and the event path) < worker (start-up, the composition root) <
 * client/tools (command line, simulation, testing). A layer imports only from below it;
 * client/sdk, the typed client other systems embed, imports only types.
 * @param {{ folders: string[], message: string, allowTypeImports?: boolean }[]} rules
 */
const layer = (rules) =>
  rules.map(({ folders, message, allowTypeImports = false }) => ({
    regex: reaching(folders),
    message,
    allowTypeImports,
  }));
/**
 * Workflow code and what it imports must replay deterministically: no I/O library, no Node.js
 * module, only types from the layers above; `more` adds patterns for one folder.
 * @param {{ regex: string, message: string, allowTypeImports?: boolean }[]} more
 */
const deterministicImports = (more) => [
  'error',
  {
    paths: [
      ...nodeBuiltins.map((name) => ({ name, message: 'Workflow code runs in a sandbox without I/O.' })),
      ...['pino', 'nodemailer', 'twilio', 'pg', 'kysely', '@electric-sql/pglite', 'fastify', 'liquidjs'].map(
        (name) => ({ name, message: 'I/O belongs in activities/, not in workflow code.' }),
      ),
      ...['@temporalio/activity', '@temporalio/client', '@temporalio/worker', '@temporalio/testing'].map((name) => ({
        name,
        message: 'Workflow code may import only @temporalio/workflow and @temporalio/common.',
      })),
    ],
    patterns: [
      {
        regex: reaching(['activities', 'worker', 'client', 'paths', 'test', 'bench', 'faults', 'scripts']),
        allowTypeImports: true,
        message: 'Workflow code may import only types from activities/ (and nothing from worker/ or client/).',
      },
      ...more,
    ],
  },
];

const outside = {
  folders: ['test', 'bench', 'faults', 'scripts'],
  message: 'Product code does not import tests, benchmarks, fault runs or scripts.',
};

module.exports = tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      '.tools/**',
      'data/**',
      'coverage/**',
      'bench/results/**',
      'faults/results/**',
    ],
  },
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
    // Folders import only from the layers below them (see `layer` above), and nothing imports in a cycle.
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [importX.createNodeResolver({ extensions: ['.ts', '.js', '.json'] })],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  {
    files: ['activities/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: layer([
            { folders: ['client', 'worker'], message: 'activities/ is below the server and the worker.' },
            {
              folders: ['workflows'],
              message: 'activities/ may import only types from workflows/.',
              allowTypeImports: true,
            },
            outside,
          ]),
        },
      ],
    },
  },
  {
    files: ['client/server/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: layer([
            {
              folders: ['worker', 'tools', 'sdk', 'client/tools', 'client/sdk'],
              message: 'client/server/ is below the worker and the tools, and does not use the SDK.',
            },
            outside,
          ]),
        },
      ],
    },
  },
  {
    files: ['client/sdk/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^\\.',
              allowTypeImports: true,
              message: 'The typed client is embedded by other systems: it imports only types from Rapport.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['worker/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: layer([
            {
              folders: ['client/tools', 'client/sdk'],
              message: 'worker/ is below the tools and does not use the SDK.',
            },
            outside,
          ]),
        },
      ],
    },
  },
  {
    files: ['client/tools/**/*.ts', 'paths.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: layer([outside]) }] },
  },
  {
    // Workflow code and what it imports must replay deterministically: no I/O, no clocks, no randomness.
    files: ['workflows/**/*.ts', 'definitions/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': deterministicImports([]),
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
  {
    // A step kind's workflow test sits next to its executor; it runs in Jest, not in the sandbox, and
    // drives the interpreter through the test helpers.
    files: ['workflows/**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': 'off',
      'no-restricted-globals': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
  {
    // definitions/ is the bottom layer: the workflows build on it, not the other way.
    files: ['definitions/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': deterministicImports([
        { regex: reaching(['workflows']), message: 'definitions/ is below workflows/.' },
      ]),
    },
  },
);
