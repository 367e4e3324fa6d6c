CREATE TABLE "mcp_call_slots" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"pool" text NOT NULL,
	"node_id" text NOT NULL,
	"taken_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "mcp_call_slots_pool_idx" ON "mcp_call_slots" USING btree ("pool");--> statement-breakpoint
CREATE INDEX "mcp_call_slots_node_idx" ON "mcp_call_slots" USING btree ("node_id");