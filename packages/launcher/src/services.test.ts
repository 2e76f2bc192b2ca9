import { GATEWAY_NODE_OPTIONS } from '@taskgraph/runtime';
import { planServices } from './services.js';

const plan = (baseEnv: NodeJS.ProcessEnv) =>
  planServices({ baseEnv, ports: {}, host: '127.0.0.1', databaseUrl: 'postgres://127.0.0.1:5432/taskgraph' });

describe('planServices', () => {
  it('starts the gateway with its heap flags after the inherited NODE_OPTIONS, and leaves the subgraphs’ alone', () => {
    const { gateway, subgraphs } = plan({ NODE_OPTIONS: '--max-old-space-size=384' });
    expect(gateway.env.NODE_OPTIONS).toBe(`--max-old-space-size=384 ${GATEWAY_NODE_OPTIONS}`);
    for (const subgraph of subgraphs) expect(subgraph.env.NODE_OPTIONS).toBe('--max-old-space-size=384');
    expect(plan({}).gateway.env.NODE_OPTIONS).toBe(GATEWAY_NODE_OPTIONS);
  });
});
