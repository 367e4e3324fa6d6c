CREATE TABLE "gateway_nodes" (
	"node_id" text PRIMARY KEY NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "sessions_live_node_idx" ON "sessions" USING btree ("node_id") WHERE "sessions"."status" = 'live';