export default async function globalTeardown(): Promise<void> {
  const pg = (globalThis as { __taskgraphPg?: { stop(): Promise<void> } }).__taskgraphPg;
  if (pg) await pg.stop();
}
