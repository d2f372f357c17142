-- +goose Up
-- The mailbox message of the step with mailbox, so that a reply or a
-- removal can cancel it before it leaves.
ALTER TABLE enrollments ADD COLUMN submitted_message_id text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE enrollments DROP COLUMN submitted_message_id;
