ALTER TABLE "session_events" ADD COLUMN "data" bytea;--> statement-breakpoint
ALTER TABLE "session_events" ALTER COLUMN "data" SET STORAGE EXTERNAL;
