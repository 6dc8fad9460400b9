// LLM profiles: which model plans and which works. List, create, edit, make active,
// delete (the server checks the scope: changing them needs admin).
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/client";
import { ErrorBox, Loading } from "../../components/common";
import { FormProblems, fieldProps, serverProblems, type Problem } from "../../components/FormProblems";
import type { ModelSpec, Profile } from "./types";
import { checkProfile, emptyProfile, type ProfileForm } from "./validate";

const enc = encodeURIComponent;

export function specText(m: ModelSpec): string {
  return `${m.provider}:${m.model}`;
}

function paramsText(p: Record<string, unknown>): string {
  return Object.keys(p).length ? JSON.stringify(p) : "";
}

function toForm(p: Profile): ProfileForm {
  return {
    name: p.name,
    planner: specText(p.planner),
    worker: specText(p.worker),
    planner_params: paramsText(p.planner.params),
    worker_params: paramsText(p.worker.params),
    description: p.description,
    activate: p.active,
  };
}

function ProfileEditor({ start, onDone }: { start: Profile | null; onDone: () => void }) {
  const client = useQueryClient();
  const editing = start !== null;
  const [form, setForm] = useState<ProfileForm>(start ? toForm(start) : emptyProfile);
  const [problems, setProblems] = useState<Problem[]>([]);
  const save = useMutation({
    mutationFn: (body: Record<string, unknown>) =>
      editing
        ? api<Profile>(`/v1/profiles/${enc(start.name)}`, { method: "PATCH", body })
        : api<Profile>("/v1/profiles", { method: "POST", body }),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ["profiles"] });
      onDone();
    },
    onError: (e) => setProblems(serverProblems(e)),
  });
  const set = <K extends keyof ProfileForm>(key: K, value: ProfileForm[K]) => setForm((f) => ({ ...f, [key]: value }));
  const err = `profile-${start?.name ?? "new"}-problems`;
  const title = editing ? `Edit profile ${start.name}` : "New profile";
  return (
    <form
      className="card"
      aria-label={title}
      style={{ marginTop: 8 }}
      onSubmit={(e) => {
        e.preventDefault();
        const checked = checkProfile(form, editing);
        setProblems(checked.problems);
        if (checked.body) save.mutate(checked.body);
      }}
    >
      <h3 style={{ marginTop: 0 }}>{title}</h3>
      <div className="form-grid">
        {!editing ? (
          <label>
            Name
            <input value={form.name} onChange={(e) => set("name", e.target.value)} {...fieldProps(problems, "name", err)} />
          </label>
        ) : null}
        <label>
          Planner (PROVIDER:MODEL)
          <input value={form.planner} placeholder="anthropic:claude-sonnet-4-5" onChange={(e) => set("planner", e.target.value)} {...fieldProps(problems, "planner", err)} />
        </label>
        <label>
          Worker (PROVIDER:MODEL)
          <input value={form.worker} placeholder="openai:gpt-4o-mini" onChange={(e) => set("worker", e.target.value)} {...fieldProps(problems, "worker", err)} />
        </label>
        <label>
          Planner parameters (JSON)
          <input value={form.planner_params} placeholder='{"temperature": 0.2}' onChange={(e) => set("planner_params", e.target.value)} {...fieldProps(problems, "planner_params", err)} />
        </label>
        <label>
          Worker parameters (JSON)
          <input value={form.worker_params} placeholder='{"temperature": 0.2}' onChange={(e) => set("worker_params", e.target.value)} {...fieldProps(problems, "worker_params", err)} />
        </label>
        <label>
          Description
          <input value={form.description} onChange={(e) => set("description", e.target.value)} />
        </label>
        {!editing ? (
          <label className="inline">
            <input type="checkbox" checked={form.activate} onChange={(e) => set("activate", e.target.checked)} />
            Make it active
          </label>
        ) : null}
      </div>
      <div className="row" style={{ marginTop: 8 }}>
        <button className="primary" type="submit" disabled={save.isPending}>
          {editing ? "Save profile" : "Create profile"}
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
      <FormProblems problems={problems} id={err} />
    </form>
  );
}

function ProfileRow({ profile, admin, onEdit }: { profile: Profile; admin: boolean; onEdit: () => void }) {
  const client = useQueryClient();
  const [confirm, setConfirm] = useState(false);
  const done = () => void client.invalidateQueries({ queryKey: ["profiles"] });
  const use = useMutation({ mutationFn: () => api(`/v1/profiles/${enc(profile.name)}/use`, { method: "POST" }), onSuccess: done });
  const remove = useMutation({ mutationFn: () => api(`/v1/profiles/${enc(profile.name)}`, { method: "DELETE" }), onSuccess: done });
  return (
    <tr>
      <th scope="row">
        {profile.name} {profile.active ? <span className="badge status-done">active</span> : null}
        {profile.description ? <div className="muted">{profile.description}</div> : null}
      </th>
      <td className="mono">{specText(profile.planner)}</td>
      <td className="mono">{specText(profile.worker)}</td>
      <td>
        {admin ? (
          <div className="row">
            {!profile.active ? (
              <button type="button" onClick={() => use.mutate()}>
                Use{" "}<span className="visually-hidden">profile {profile.name}</span>
              </button>
            ) : null}
            <button type="button" onClick={onEdit}>
              Edit{" "}<span className="visually-hidden">profile {profile.name}</span>
            </button>
            {confirm ? (
              <button type="button" className="danger" onClick={() => remove.mutate()}>
                Confirm delete{" "}<span className="visually-hidden">profile {profile.name}</span>
              </button>
            ) : (
              <button type="button" onClick={() => setConfirm(true)}>
                Delete{" "}<span className="visually-hidden">profile {profile.name}</span>
              </button>
            )}
          </div>
        ) : null}
        <ErrorBox error={use.error ?? remove.error} />
      </td>
    </tr>
  );
}

export function Profiles({ admin }: { admin: boolean }) {
  const list = useQuery({ queryKey: ["profiles"], queryFn: ({ signal }) => api<Profile[]>("/v1/profiles", { signal }) });
  const [editing, setEditing] = useState<Profile | "new" | null>(null);
  return (
    <section aria-labelledby="profiles-title">
      <div className="row">
        <h2 id="profiles-title" className="grow">
          Profiles
        </h2>
        {admin && editing === null ? (
          <button type="button" onClick={() => setEditing("new")}>
            New profile
          </button>
        ) : null}
      </div>
      <p className="muted">A profile names the planner and the worker model a run uses; the active one is the default.</p>
      {list.isPending ? <Loading what="profiles" /> : null}
      <ErrorBox error={list.error} />
      {list.data ? (
        <table aria-labelledby="profiles-title">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Planner</th>
              <th scope="col">Worker</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((p) => (
              <ProfileRow key={p.name} profile={p} admin={admin} onEdit={() => setEditing(p)} />
            ))}
            {!list.data.length ? (
              <tr>
                <td colSpan={4} className="muted">No profile yet.</td>
              </tr>
            ) : null}
          </tbody>
        </table>
      ) : null}
      {editing !== null ? (
        <ProfileEditor key={editing === "new" ? "new" : editing.name} start={editing === "new" ? null : editing} onDone={() => setEditing(null)} />
      ) : null}
    </section>
  );
}
