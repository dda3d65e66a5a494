-- Argo CD health of GentooBootstrap, GentooBuilder and BuildRun, from their status conditions:
-- waiting for a person (AwaitingOperator) is Suspended, Stalled is Degraded, Ready is Healthy.
local hs = {}
local status = obj.status
if status == nil or status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator"
  return hs
end
if obj.metadata.generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < obj.metadata.generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe the new spec"
  return hs
end
local function find(kind)
  for _, condition in ipairs(status.conditions) do
    if condition.type == kind then
      return condition
    end
  end
  return nil
end
local function describe(condition)
  return (condition.reason or "") .. ": " .. (condition.message or "")
end
for _, rule in ipairs({ { "AwaitingOperator", "Suspended" }, { "Stalled", "Degraded" } }) do
  local condition = find(rule[1])
  if condition ~= nil and condition.status == "True" then
    hs.status = rule[2]
    hs.message = describe(condition)
    return hs
  end
end
local ready = find("Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
elseif status.phase == "Failed" then
  hs.status = "Degraded"
else
  hs.status = "Progressing"
end
if ready ~= nil then
  hs.message = describe(ready)
end
return hs
