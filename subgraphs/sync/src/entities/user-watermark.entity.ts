import { EntitySchema } from '@mikro-orm/core';

/**
 * Per user, the highest cursor the pruner deleted. Resuming `after` a cursor below it could skip
 * deleted updates, so it fails with RESYNC_REQUIRED; at or above it, everything is retained.
 */
export interface UserWatermark {
  userId: string;
  /** bigint as a decimal string. */
  prunedThrough: string;
}

export const UserWatermarkSchema = new EntitySchema<UserWatermark>({
  name: 'UserWatermark',
  tableName: 'user_watermark',
  properties: {
    userId: { type: 'text', primary: true },
    prunedThrough: { type: 'bigint' },
  },
});
