-- The escrow writer's position (nodes/core/escrow/writer.ts): every case update stored up to
-- `escrowed_to` (a doc_updates seq) that stays in this unit is sealed into its escrow document.
-- Moved in the same transaction as the sealed entry, so a crash between them repeats nothing
-- and skips nothing.
CREATE TABLE escrow_state (
  id          smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  escrowed_to bigint NOT NULL DEFAULT 0,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
