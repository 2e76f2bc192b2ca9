/**
 * `npm run test:soak`: the long reliability runs (e2e/soak/*.soak.ts), one at a time, outside
 * `npm test`. Same transform and module mapping as the root config.
 */
import base from '../../jest.config.js';

export default {
  ...base,
  rootDir: '../..',
  testMatch: ['<rootDir>/e2e/soak/**/*.soak.ts'],
  testTimeout: 1_800_000,
  maxWorkers: 1,
};
