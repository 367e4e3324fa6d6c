ALTER TABLE "approval_decisions" ADD COLUMN "window_seconds" integer;--> statement-breakpoint
CREATE INDEX "access_grants_user_connection_idx" ON "access_grants" USING btree ("user_id","connection_id");--> statement-breakpoint
CREATE UNIQUE INDEX "approval_decisions_request_approver_idx" ON "approval_decisions" USING btree ("request_id","approver_id");