export default async function globalTeardown() {
  if (globalThis.__taskgraphPg) await globalThis.__taskgraphPg.stop();
}
