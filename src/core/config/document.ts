// An Occlum.json being edited: current text, edit history with undo/redo, diagnostics on demand.
import { applyTextEdits, editsFor, type EditOp } from './edit.ts';
import type { Fix } from './types.ts';

export class EditHistory {
  private undoStack: string[] = [];
  private redoStack: string[] = [];

  constructor(
    private current: string,
    private readonly limit = 500,
  ) {}

  get text(): string {
    return this.current;
  }

  get canUndo(): boolean {
    return this.undoStack.length > 0;
  }

  get canRedo(): boolean {
    return this.redoStack.length > 0;
  }

  /** Records a new text (no-op when unchanged); clears the redo stack. */
  push(next: string): boolean {
    if (next === this.current) return false;
    this.undoStack.push(this.current);
    if (this.undoStack.length > this.limit) this.undoStack.shift();
    this.redoStack = [];
    this.current = next;
    return true;
  }

  undo(): boolean {
    const prev = this.undoStack.pop();
    if (prev === undefined) return false;
    this.redoStack.push(this.current);
    this.current = prev;
    return true;
  }

  redo(): boolean {
    const next = this.redoStack.pop();
    if (next === undefined) return false;
    this.undoStack.push(this.current);
    this.current = next;
    return true;
  }

  /** Starts over from a text (e.g. after reloading from disk). */
  reset(text: string): void {
    this.undoStack = [];
    this.redoStack = [];
    this.current = text;
  }
}

/** Applies one edit operation to a text, format-preserving. */
export function applyOp(text: string, op: EditOp): string {
  return applyTextEdits(text, editsFor(text, op));
}

/** Applies a diagnostic's fix (its edits are relative to the text it was computed on). */
export function applyFix(text: string, fix: Fix): string {
  return applyTextEdits(text, fix.edits);
}
