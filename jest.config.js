/** @type {import('jest').Config} */
const swc = (syntax) => ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax } }, module: { type: 'commonjs' } }];

// Dependencies published only as ES modules, compiled to CommonJS for Jest's module registry.
const esmOnly = ['cookie', '@marcbachmann/cel-js', 'content-disposition'];

module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': swc('typescript'),
    '^.+\\.m?js$': swc('ecmascript'),
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnly.join('|')})/)`],
  // Each step kind's workflow test sits next to its executor (workflows/steps/<kind>.test.ts).
  testMatch: ['<rootDir>/test/**/*.test.ts', '<rootDir>/workflows/**/*.test.ts'],
  testTimeout: 120000,
  // Each integration file starts its own Temporal server and worker; two cores take two files at a time.
  maxWorkers: 2,
  globalSetup: '<rootDir>/test/global-setup.ts',
};
