import { nodeIds } from "../live.ts";

/** A labelled select of a list page's filters; "" stands for `all`. */
export function FilterSelect({ label, value, all, options, onChange }: { label: string; value: string; all: string; options: readonly string[]; onChange: (value: string) => void }) {
  return (
    <label>
      {label}
      <select value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">{all}</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </label>
  );
}

/** The machine filter: every machine the live view knows, and the one in the address even if it is gone. */
export function MachineFilter({ value, onChange }: { value: string; onChange: (value: string) => void }) {
  const ids = nodeIds.value.includes(value) || !value ? nodeIds.value : [value, ...nodeIds.value];
  return <FilterSelect label="Machine" value={value} all="all machines" options={ids} onChange={onChange} />;
}
