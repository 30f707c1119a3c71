// Shown when the studio is launched outside an instance: the instances found below the launch
// directory to open one, and init (here) / new (a new directory) to create one.
import React, { useEffect } from 'react';
import { Box, Text } from 'ink';
import { relative, resolve } from 'node:path';
import { createInstance } from '../src/store/instance-actions.ts';
import { LineEditor } from './widgets/LineEditor.tsx';
import { useStudio, useStudioStore } from './store-context.tsx';
import { theme } from './theme.ts';
import { sanitizeForTerminal } from '../src/core/text/sanitize.ts';
import type { FoundInstance } from '../src/core/instance/discover.ts';
import { startBindings } from './keymap.ts';
import { bindingHints } from './hint-line.ts';
import { HintLine } from './widgets/HintLine.tsx';
import { useClick } from './clickable.ts';
import { useTerminalSize } from './terminal-size.ts';

/** One instance found; a click selects it. */
function InstanceRow(p: { inst: FoundInstance; index: number; selected: boolean; launchDir: string }) {
  const store = useStudioStore();
  const ref = useClick(() => {
    const s = store.getState();
    s.moveStartSelection(p.index - s.startIndex);
  });
  return (
    <Box ref={ref}>
      <Text inverse={p.selected} wrap="truncate-end">
        {' '}
        {sanitizeForTerminal(relative(p.launchDir, p.inst.dir)) || '.'}{' '}
        <Text color={theme.muted}>{p.inst.status ?? 'no status file'}</Text>
      </Text>
    </Box>
  );
}

export function StartScreen() {
  const { columns } = useTerminalSize();
  const store = useStudioStore();
  const { launchDir, instances, index, prompting } = useStudio((s) => ({
    launchDir: s.launchDir,
    instances: s.startInstances,
    index: s.startIndex,
    prompting: s.startPrompt === 'new',
  }));
  useEffect(() => store.getState().scanInstances(), [store, launchDir]);
  const endPrompt = () => store.getState().setStartPrompt(null);

  return (
    <Box flexDirection="column" paddingX={1}>
      <Text bold>No Occlum instance in {sanitizeForTerminal(launchDir)}</Text>
      <Text color={theme.muted} wrap="truncate-end">
        An instance is a directory with Occlum.json.
      </Text>
      {prompting ? null : <HintLine hints={bindingHints(startBindings, store)} width={columns - 2} />}
      {prompting && (
        <LineEditor
          prompt="new instance directory: "
          onCancel={endPrompt}
          onSubmit={(v) => {
            endPrompt();
            if (v.trim()) void createInstance(store, 'new', resolve(launchDir, v.trim()));
          }}
        />
      )}
      <Box marginTop={1} flexDirection="column">
        {instances.length === 0 ? (
          <Text>No instances found below this directory (searched 3 levels deep).</Text>
        ) : (
          <>
            <Text bold color={theme.accent}>
              Instances below this directory (enter opens):
            </Text>
            {instances.map((inst, i) => (
              <InstanceRow key={inst.dir} inst={inst} index={i} selected={i === index} launchDir={launchDir} />
            ))}
          </>
        )}
      </Box>
    </Box>
  );
}
