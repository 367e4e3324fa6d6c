CREATE TABLE "replay_keyframes" (
	"session_id" uuid NOT NULL,
	"ch" integer NOT NULL,
	"format" integer NOT NULL,
	"data" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "replay_keyframes_session_id_ch_pk" PRIMARY KEY("session_id","ch")
);
