import { ConfigError, loadServiceConfig } from './config.js';

const production = { NODE_ENV: 'production', INTERNAL_TOKEN_SECRET: 'x'.repeat(32) };

describe('loadServiceConfig: Dapr tokens', () => {
  test('APP_API_TOKEN is required in production with EVENT_BUS=dapr, and named in the error', () => {
    expect(() => loadServiceConfig(4001, { ...production, EVENT_BUS: 'dapr' })).toThrow(ConfigError);
    expect(() => loadServiceConfig(4001, { ...production, EVENT_BUS: 'dapr' })).toThrow(/APP_API_TOKEN/);
  });

  test('optional otherwise; both tokens land in config.dapr', () => {
    expect(loadServiceConfig(4001, { ...production, EVENT_BUS: 'embedded' }).dapr.appToken).toBeUndefined();
    expect(loadServiceConfig(4001, { EVENT_BUS: 'dapr' }).dapr).toMatchObject({ appToken: undefined, apiToken: undefined });
    const config = loadServiceConfig(4001, { ...production, EVENT_BUS: 'dapr', APP_API_TOKEN: 'app', DAPR_API_TOKEN: 'api' });
    expect(config.dapr).toMatchObject({ appToken: 'app', apiToken: 'api' });
  });
});
