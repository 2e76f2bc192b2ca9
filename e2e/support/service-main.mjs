// Child-process entry of one subgraph (see child-service.ts): registers the TypeScript hooks,
// starts `createService(testServiceConfig(<database url>, <config json>))` and prints one line
// `READY <url>` on stdout. Killed with SIGKILL by the tests; SIGTERM closes it gracefully.
// Usage: node service-main.mjs <subgraph name> <database url> [config json]
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);

const [name, databaseUrl, configJson = '{}'] = process.argv.slice(2);
if (!name || !databaseUrl) {
  console.error('usage: node service-main.mjs <subgraph name> <database url> [config json]');
  process.exit(2);
}
const overrides = JSON.parse(configJson);
const { testServiceConfig } = await import('@taskgraph/runtime');
const { createService } = await import(`@taskgraph/subgraph-${name}`);
try {
  const service = await createService(testServiceConfig(databaseUrl, overrides));
  process.stdout.write(`READY ${service.url}\n`);
  const stop = () =>
    service.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} catch (error) {
  console.error(`service-main: ${name} failed to start`, error);
  process.exit(1);
}
