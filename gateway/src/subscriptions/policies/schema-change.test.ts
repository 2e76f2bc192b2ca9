import { createLogger } from '@taskgraph/runtime';
import { fixtureSupergraph } from '../../fixtures/subscription-subgraphs.js';
import { schemaChangePolicy } from './schema-change.js';

const logger = createLogger('test', 'silent');

function schemaSource() {
  const listeners = new Set<(schema: { supergraphSdl: string }) => void>();
  return {
    onSchemaChange(listener: (schema: { supergraphSdl: string }) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    publish(supergraphSdl: string) {
      for (const listener of listeners) listener({ supergraphSdl });
    },
    get listeners() {
      return listeners.size;
    },
  };
}

describe('schemaChangePolicy', () => {
  const sdl = (port: number) =>
    fixtureSupergraph({
      feed: `http://127.0.0.1:${port}/graphql`,
      tasks: 'http://127.0.0.1:2/graphql',
      audit: 'http://127.0.0.1:3/graphql',
    });

  it('builds a planner per distinct supergraph, bumps the generation, keeps the previous one on a bad SDL', () => {
    const source = schemaSource();
    const policy = schemaChangePolicy(source.onSchemaChange, { planCacheSize: 10, logger });
    expect(policy.planner).toBeUndefined();
    expect(policy.generation).toBe(0);

    source.publish(sdl(1));
    const first = policy.planner;
    expect(first?.apiGraphQLSchema.getSubscriptionType()?.getFields().taskUpdates).toBeDefined();
    expect(policy.generation).toBe(1);

    source.publish(sdl(1));
    expect(policy.planner).toBe(first);
    expect(policy.generation).toBe(1);

    source.publish('this is not a supergraph');
    expect(policy.planner).toBe(first);
    expect(policy.generation).toBe(1);

    source.publish(sdl(4));
    expect(policy.planner).not.toBe(first);
    expect(policy.generation).toBe(2);

    policy.close?.();
    expect(source.listeners).toBe(0);
  });
});
