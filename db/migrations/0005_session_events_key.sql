-- An event stored twice (re-stored from a spool after a crash) would block the key: keep the first.
DELETE FROM "session_events" a USING "session_events" b WHERE a."session_id" = b."session_id" AND a."seq" = b."seq" AND a."id" > b."id";--> statement-breakpoint
DROP INDEX "session_events_session_idx";--> statement-breakpoint
ALTER TABLE "session_events" DROP COLUMN "id";--> statement-breakpoint
ALTER TABLE "session_events" ADD CONSTRAINT "session_events_pkey" PRIMARY KEY("session_id","seq");
