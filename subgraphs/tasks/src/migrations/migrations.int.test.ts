import { createLogger, openDatabase } from '@taskgraph/runtime';
import { createTestDatabase } from '@taskgraph/test-kit';
import { TaskSchema } from '../entities/task.entity.js';
import { migrations } from './index.js';

// The entity does not restate indexes, checks and defaults the migration adds, so only structural
// drift (tables, columns, nullability) is compared.
it('committed migrations create every table and column the entities describe', async () => {
  const testDb = await createTestDatabase('tasks_mig');
  const db = await openDatabase({
    url: testDb.url,
    schema: 'tasks',
    entities: [TaskSchema],
    migrations,
    logger: createLogger('test', 'silent'),
  });
  try {
    const diff = await db.orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false, schema: 'tasks' });
    const structural = diff
      .split('\n')
      .filter((line) => /create table|add column|drop column|rename column|set not null|drop not null/i.test(line));
    expect(structural).toEqual([]);
    const meta = db.orm.getMetadata().get('Task');
    const columns = await db.orm.em
      .getConnection()
      .execute<{ column_name: string; is_nullable: string }[]>(
        "select column_name, is_nullable from information_schema.columns where table_schema = 'tasks' and table_name = 'task'",
      );
    const actual = Object.fromEntries(columns.map((c) => [c.column_name, c.is_nullable === 'YES']));
    const expected = Object.fromEntries(meta.props.map((p) => [p.fieldNames[0], Boolean(p.nullable)]));
    expect(actual).toEqual(expected);
  } finally {
    await db.close();
    await testDb.drop();
  }
});
