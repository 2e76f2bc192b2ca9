// Positive fixture: uses only what FixtureTask selects; must typecheck.
import { createTaskgraphClient } from '../../src/client.js';
import { FixtureTaskDocument, type Priority } from '../.out/valid/graphql.js';

export async function titleAndPriority(id: string): Promise<[string, Priority] | undefined> {
  const client = createTaskgraphClient({ url: 'http://127.0.0.1:4000/graphql', token: 'dev' });
  const { task } = await client.query(FixtureTaskDocument, { id });
  return task ? [task.title, task.priority] : undefined;
}
