import type { Limits } from '../../core/limits.js';
import type { Logger } from '../../core/logger.js';
import type { CommitPipeline } from '../../pipeline/commit-pipeline.js';
import type { DocReader } from '../../storage/doc-reader.js';

/** What the HTTP routes need from the engine. */
export interface RouteDeps {
  pipeline: CommitPipeline;
  reader: DocReader;
  limits: Limits;
  logger: Logger;
}
