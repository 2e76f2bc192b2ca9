import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261124100000_init } from './Migration20261124100000_init.js';

/** Committed migrations, in order (listed explicitly: no file-system discovery at run time). */
export const migrations: MigrationObject[] = [{ name: 'Migration20261124100000_init', class: Migration20261124100000_init }];
