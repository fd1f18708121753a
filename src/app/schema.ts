/** Schema migrations for `cairn migrate` (the storage layer does the work). */
export {
  analyzeStorage,
  schemaDown,
  schemaStatus,
  schemaUp,
  type SchemaChange,
  type SchemaState,
  type SchemaTarget,
} from '../storage/schema-admin.js';
