ALTER TABLE "access_grants" DROP CONSTRAINT "access_grants_connection_id_connections_id_fk";
--> statement-breakpoint
ALTER TABLE "approval_requests" DROP CONSTRAINT "approval_requests_connection_id_connections_id_fk";
--> statement-breakpoint
ALTER TABLE "access_grants" ALTER COLUMN "connection_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "approval_requests" ALTER COLUMN "connection_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "access_grants" ADD COLUMN "connection_name" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "approval_requests" ADD COLUMN "connection_name" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "access_grants" ADD CONSTRAINT "access_grants_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "approval_requests" ADD CONSTRAINT "approval_requests_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
-- Requests and grants made before names were kept on them: the connection's current name.
UPDATE "approval_requests" r SET "connection_name" = c."name" FROM "connections" c WHERE r."connection_id" = c."id";--> statement-breakpoint
UPDATE "access_grants" g SET "connection_name" = c."name" FROM "connections" c WHERE g."connection_id" = c."id";
