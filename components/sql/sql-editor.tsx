"use client";
import { autocompletion, closeBrackets, closeBracketsKeymap, completeFromList, completionKeymap } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { PostgreSQL, sql } from "@codemirror/lang-sql";
import { defaultHighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { Compartment, EditorState, Prec } from "@codemirror/state";
import { EditorView, keymap, lineNumbers } from "@codemirror/view";
import { useEffect, useRef } from "react";
import type { LoadedSchema } from "./schema";

/**
 * The SQL console's editor: CodeMirror with PostgreSQL highlighting and completion of keywords,
 * and of the schemas, tables and columns in `schema` once the console has loaded them (through
 * the gateway, as any statement): `table.` completes that table's columns, and a bare word any
 * column's name too (a select list is written before its FROM). Mod-Enter runs; the rest is
 * CodeMirror's standard keymap.
 */
export function SqlEditor({ value, onChange, onRun, schema }: { value: string; onChange(text: string): void; onRun(text: string): void; schema: LoadedSchema | null }) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const language = useRef(new Compartment());
  // the editor is made once; these keep its handlers current
  const handlers = useRef({ onChange, onRun });
  handlers.current = { onChange, onRun };

  useEffect(() => {
    const editor = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: value,
        extensions: [
          // the editor's own text: a keystroke just before Mod-Enter may not have reached `value` yet
          Prec.highest(keymap.of([{ key: "Mod-Enter", run: (v) => (handlers.current.onRun(v.state.doc.toString()), true) }])),
          lineNumbers(),
          history(),
          closeBrackets(),
          autocompletion(),
          keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, ...completionKeymap]),
          syntaxHighlighting(defaultHighlightStyle),
          language.current.of(sqlLanguage(null)),
          EditorView.lineWrapping,
          EditorView.contentAttributes.of({ "aria-label": "SQL", spellcheck: "false" }),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) handlers.current.onChange(u.state.doc.toString());
          }),
          EditorView.theme({ "&": { height: "10rem", fontSize: "0.875rem" }, ".cm-scroller": { fontFamily: "ui-monospace, monospace" } }),
        ],
      }),
    });
    view.current = editor;
    return () => editor.destroy();
    // eslint-disable-next-line react-hooks/exhaustive-deps -- made once; `value` is synced below
  }, []);

  // Text set from outside (an earlier statement picked to edit again) replaces the editor's.
  useEffect(() => {
    const editor = view.current;
    if (editor && editor.state.doc.toString() !== value) editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: value } });
  }, [value]);

  useEffect(() => {
    view.current?.dispatch({ effects: language.current.reconfigure(sqlLanguage(schema)) });
  }, [schema]);

  return <div ref={host} className="overflow-hidden rounded-md border border-slate-300 bg-white focus-within:border-brand" data-testid="sql-editor" />;
}

function sqlLanguage(schema: LoadedSchema | null) {
  if (!schema) return sql({ dialect: PostgreSQL });
  const tablesOf = new Map<string, string[]>();
  for (const t of schema.tables) for (const c of t.columns) (tablesOf.get(c) ?? tablesOf.set(c, []).get(c)!).push(t.table);
  const columns = [...tablesOf].map(([label, tables]) => ({ label, type: "property", detail: tables.slice(0, 3).join(", ") + (tables.length > 3 ? ", …" : ""), boost: -1 }));
  return [sql({ dialect: PostgreSQL, schema: schema.namespace, defaultSchema: "public" }), PostgreSQL.language.data.of({ autocomplete: completeFromList(columns) })];
}
