/**
 * Wraps migration SQL so it runs only where the Citus extension is
 * installed (distributing tables, colocating them with `spaces`); on
 * plain PostgreSQL the block does nothing.
 */
export const citusGuard = (body: string) => `
  DO $$
  BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
      ${body}
    END IF;
  END $$;`;
