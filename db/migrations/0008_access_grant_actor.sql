ALTER TABLE "access_grants" ADD COLUMN "actor_token_id" uuid;--> statement-breakpoint
ALTER TABLE "access_grants" ADD CONSTRAINT "access_grants_actor_token_id_tokens_id_fk" FOREIGN KEY ("actor_token_id") REFERENCES "public"."tokens"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "access_grants_actor_token_idx" ON "access_grants" USING btree ("actor_token_id");--> statement-breakpoint
-- Grants made before grants were bound to the actor that asked: an agent's is bound to its token.
UPDATE "access_grants" g SET "actor_token_id" = t."id"
FROM "approval_requests" r, "tokens" t
WHERE g."request_id" = r."id" AND jsonb_array_length(r."chain") > 1 AND t."id"::text = r."chain"->-1->>'tokenId';--> statement-breakpoint
-- An agent's grant that cannot be bound to its token would hold for the whole user: revoked.
UPDATE "access_grants" g SET "revoked_at" = now()
FROM "approval_requests" r
WHERE g."request_id" = r."id" AND jsonb_array_length(r."chain") > 1 AND g."actor_token_id" IS NULL AND g."revoked_at" IS NULL;
