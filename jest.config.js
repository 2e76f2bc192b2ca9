/** One Jest run for the whole monorepo: unit (*.test.ts), integration (*.int.test.ts), e2e (e2e/*.e2e.ts). */
const swc = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    target: 'es2022',
    transform: { decoratorMetadata: false },
  },
  module: { type: 'es6' },
  sourceMaps: 'inline',
};

export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', swc] },
  moduleNameMapper: {
    '^@taskgraph/runtime$': '<rootDir>/packages/runtime/src/index.ts',
    '^@taskgraph/events$': '<rootDir>/packages/events/src/index.ts',
    '^@taskgraph/service-kit$': '<rootDir>/packages/service-kit/src/index.ts',
    '^@taskgraph/test-kit$': '<rootDir>/packages/test-kit/src/index.ts',
    '^@taskgraph/testing$': '<rootDir>/packages/testing/src/index.ts',
    '^@taskgraph/gateway$': '<rootDir>/gateway/src/app.ts',
    '^@taskgraph/client$': '<rootDir>/client/src/index.ts',
    '^@taskgraph/client/apollo$': '<rootDir>/client/src/apollo/index.ts',
    '^@taskgraph/subgraph-(.*)$': '<rootDir>/subgraphs/$1/src/app.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testMatch: ['<rootDir>/**/src/**/*.test.ts', '<rootDir>/e2e/**/*.e2e.ts', '<rootDir>/deploy-tests/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/fixtures/'],
  globalSetup: '<rootDir>/packages/testing/jest/global-setup.mjs',
  globalTeardown: '<rootDir>/packages/testing/jest/global-teardown.mjs',
  testTimeout: 60_000,
  maxWorkers: 2,
};
