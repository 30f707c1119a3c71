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

export function StartScreen() {
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
      <Text color={theme.muted}>
        An instance is a directory with Occlum.json. i: init one here · n: new one in a new directory
      </Text>
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
              <Text key={inst.dir} inverse={i === index}>
                {' '}
                {sanitizeForTerminal(relative(launchDir, inst.dir)) || '.'}{' '}
                <Text color={theme.muted}>{inst.status ?? 'no status file'}</Text>
              </Text>
            ))}
          </>
        )}
      </Box>
    </Box>
  );
}
