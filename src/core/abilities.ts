/**
 * The abilities a UCAN capability may grant over a space (SPEC §7, §12):
 * what every route and live command requires is one of these.
 */
export const ABILITIES = [
  'storage/read',
  'storage/write',
  'storage/admin',
  'kv/read',
  'kv/write',
] as const;

export type Ability = (typeof ABILITIES)[number];
